# Chunker.chunk/2 throughput against the Rust library in the same process and run.
#
#   cd elixir && mix run bench/throughput.exs [MiB] [rounds]
#
# On one deterministic 256 MiB binary (:rand seeded), alternately: `Chunker.chunk/2`
# (the full binding: option checks, dirty scheduling, %Chunker.Chunk{} structs with
# digest binaries and sub-binary payloads) and `Chunker.Native.rust_chunk_count/2`
# (the library's ChunkOptions::chunk_slice loop over the same bytes, no terms; built
# with the test-hooks feature, on by default in :dev and :test). Prints per-round
# GB/s and the medians and their ratio.

[mib, rounds] =
  case System.argv() do
    [m, r] -> [String.to_integer(m), String.to_integer(r)]
    [m] -> [String.to_integer(m), 7]
    [] -> [256, 7]
  end

:rand.seed(:exsss, {13, 13, 13})
data = :rand.bytes(mib * 1024 * 1024)
size = byte_size(data)

for hash <- [:sha256, nil] do
  opts = [hash: hash]
  {:ok, native, _} = Chunker.Options.chunk(opts)
  {:ok, chunks} = Chunker.chunk(data, opts)
  {:ok, {n, _}} = Chunker.Native.rust_chunk_count(data, native)
  ^n = length(chunks)

  {elixir, rust} =
    Enum.map(1..rounds, fn _ ->
      {a, {:ok, _}} = :timer.tc(fn -> Chunker.chunk(data, opts) end)
      {b, {:ok, _}} = :timer.tc(fn -> Chunker.Native.rust_chunk_count(data, native) end)
      {size / a / 1000, size / b / 1000}
    end)
    |> Enum.unzip()

  median = fn l -> Enum.at(Enum.sort(l), div(length(l), 2)) end
  fmt = fn l -> Enum.map_join(l, " ", &:erlang.float_to_binary(&1, decimals: 2)) end
  IO.puts("#{mib} MiB, hash #{inspect(hash)}, #{n} chunks (medium preset)")

  IO.puts(
    "  Chunker.chunk/2        GB/s: #{fmt.(elixir)}  median #{Float.round(median.(elixir), 2)}"
  )

  IO.puts("  Rust chunk_slice loop  GB/s: #{fmt.(rust)}  median #{Float.round(median.(rust), 2)}")
  IO.puts("  ratio of medians: #{Float.round(median.(elixir) / median.(rust), 3)}")
end

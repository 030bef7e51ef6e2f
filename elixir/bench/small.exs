# Per-call cost of small inputs on each scheduler form (the basis of the 64 KiB
# normal-scheduler threshold): `mix run bench/small.exs`. Medians of 200 calls, µs.
:rand.seed(:exsss, {13, 13, 13})
{:ok, native, _} = Chunker.Options.chunk(hash: :sha256)

median = fn f ->
  for(_ <- 1..200, do: elem(:timer.tc(f), 0)) |> Enum.sort() |> Enum.at(100)
end

for n <- [100, 4096, 65_536] do
  data = :rand.bytes(n)
  normal = median.(fn -> Chunker.Native.chunk(data, native) end)
  dirty = median.(fn -> Chunker.Native.chunk_dirty(data, native) end)
  IO.puts("chunk+sha256 #{n} B: normal #{normal} µs, dirty #{dirty} µs")
end

text = for <<b <- :rand.bytes(65_536)>>, into: <<>>, do: <<?a + Bitwise.band(b, 15)>>

for {codec, level} <- [zstd: 3, zstd: 19, xz: 6, xz: 9, bzip2: 9, lz4: 1] do
  us = median.(fn -> Chunker.Native.compress(text, Atom.to_string(codec), level) end)
  IO.puts("compress 64 KiB #{codec}-#{level}: #{us} µs")
end

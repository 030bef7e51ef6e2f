defmodule Chunker.StreamTest do
  use ExUnit.Case, async: true
  import Chunker.TestHelper

  defp feed_all(pieces, opts) do
    {:ok, s} = Chunker.Stream.new(opts)

    chunks =
      Enum.flat_map(pieces, fn p ->
        {:ok, cs} = Chunker.Stream.feed(s, p)
        cs
      end)

    {:ok, {last, summary}} = Chunker.Stream.finish(s)
    {chunks ++ last, summary}
  end

  test "random feed sizes give the Rust library's cut points, digests and payloads" do
    data = random(2_000_000, 21)
    expected = rust_chunks(data, ["--preset", "small"])

    for {max_piece, seed} <- [{1000, 1}, {70_000, 2}, {300_000, 3}, {2_000_000, 4}] do
      {chunks, summary} = feed_all(random_pieces(data, max_piece, seed), preset: :small)
      assert rows(chunks) == expected, "pieces up to #{max_piece}"

      assert Enum.map(chunks, &binary_part(data, &1.offset, &1.length)) ==
               Enum.map(chunks, & &1.payload)

      assert summary.length == byte_size(data)
      assert summary.chunks == length(expected)
      assert summary.digest == nil
    end
  end

  test "odd sizes, text and blake3 through random pieces" do
    data = text(1_500_000, 22)
    args = ["--min", "333", "--avg", "1001", "--max", "5003", "--hash", "blake3"]
    expected = rust_chunks(data, args)
    opts = [min: 333, avg: 1001, max: 5003, hash: :blake3]
    {chunks, _} = feed_all(random_pieces(data, 9000, 5), opts)
    assert rows(chunks) == expected
  end

  test "the real NAR in 1 MiB pieces, with the whole-stream digest (NarHash)" do
    case real_nar() do
      nil ->
        IO.puts("skipped: no nix-store to make a real NAR")

      nar ->
        pieces = for <<p::binary-size(1_048_576) <- nar>>, do: p
        rest = binary_part(nar, length(pieces) * 1_048_576, rem(byte_size(nar), 1_048_576))
        {chunks, summary} = feed_all(pieces ++ [rest], stream_hash: :sha256)
        assert rows(chunks) == rust_chunks(nar, [])
        assert summary.digest == :crypto.hash(:sha256, nar)
        assert summary.length == byte_size(nar)
    end
  end

  test "payloads inside one piece are sub-binaries of it" do
    data = random(1_000_000, 23)
    {:ok, s} = Chunker.Stream.new(preset: :small)
    {:ok, chunks} = Chunker.Stream.feed(s, data)
    assert chunks != []
    assert Enum.all?(chunks, &(:binary.referenced_byte_size(&1.payload) == byte_size(data)))
  end

  test "chunk_stream is lazy over File.stream! and equals chunk/2" do
    data = random(3_000_000, 24)
    path = tmp_path("stream.bin")
    File.write!(path, data)
    stream = File.stream!(path, [], 65_536) |> Chunker.chunk_stream(preset: :small, hash: :blake3)
    # Lazy: taking the first chunk reads only the first pieces.
    assert [first] = Enum.take(stream, 1)
    assert first.offset == 0
    {:ok, expected} = Chunker.chunk(data, preset: :small, hash: :blake3)
    assert rows(Enum.to_list(stream)) == rows(expected)
    File.rm_rf!(Path.dirname(path))
  end

  test "chunk_stream raises Chunker.Error on bad options when run" do
    stream = Chunker.chunk_stream(["abc"], min: 1)
    assert_raise Chunker.Error, fn -> Enum.to_list(stream) end
  end

  test "the whole-stream digest equals Chunker.Hash" do
    data = text(300_000, 25)
    {_, summary} = feed_all(random_pieces(data, 50_000, 6), stream_hash: :blake3, hash: nil)
    assert {:ok, summary.digest} == Chunker.Hash.hash(data, :blake3)
  end

  test "a finished stream is closed; bad options are errors" do
    {:ok, s} = Chunker.Stream.new()
    {:ok, []} = Chunker.Stream.feed(s, "abc")
    {:ok, {[%Chunker.Chunk{offset: 0, length: 3}], _}} = Chunker.Stream.finish(s)
    assert {:error, {:closed, _}} = Chunker.Stream.feed(s, "more")
    assert {:error, {:closed, _}} = Chunker.Stream.finish(s)
    assert {:error, {:invalid_option, _}} = Chunker.Stream.new(stream_hash: :md5)
    assert {:error, {:invalid_config, _}} = Chunker.Stream.new(avg: 10)
  end

  test "one stream fed from many processes at once stays consistent" do
    # Calls are serialized: every byte is in exactly one chunk, chunks tile the stream.
    {:ok, s} = Chunker.Stream.new(min: 64, avg: 256, max: 1024)
    pieces = for i <- 1..40, do: random(if(rem(i, 2) == 0, do: 100_000, else: 3000), i)
    total = pieces |> Enum.map(&byte_size/1) |> Enum.sum()

    chunks =
      pieces
      |> Enum.map(fn p -> Task.async(fn -> Chunker.Stream.feed(s, p) end) end)
      |> Enum.flat_map(fn t ->
        {:ok, cs} = Task.await(t, 30_000)
        cs
      end)

    {:ok, {last, summary}} = Chunker.Stream.finish(s)
    all = Enum.sort_by(chunks ++ last, & &1.offset)
    assert summary.length == total
    assert summary.chunks == length(all)

    assert Enum.reduce(all, 0, fn c, pos ->
             assert c.offset == pos
             pos + c.length
           end) == total

    assert Enum.all?(
             all,
             &(byte_size(&1.payload) == &1.length and
                 :crypto.hash(:sha256, &1.payload) == &1.digest)
           )
  end

  test "many streams in parallel are independent" do
    data = random(1_000_000, 26)
    {:ok, expected} = Chunker.chunk(data, preset: :small)

    results =
      for seed <- 1..16 do
        Task.async(fn ->
          {chunks, _} = feed_all(random_pieces(data, 40_000, seed), preset: :small)
          rows(chunks)
        end)
      end
      |> Task.await_many(60_000)

    assert Enum.all?(results, &(&1 == rows(expected)))
  end
end

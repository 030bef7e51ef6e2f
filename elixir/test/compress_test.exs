defmodule Chunker.CompressTest do
  use ExUnit.Case, async: true
  import Chunker.TestHelper
  alias Chunker.Compress

  doctest Chunker.Compress

  @codecs [:zstd, :lz4, :xz, :bzip2, :none]

  test "every codec round-trips, detected and named" do
    data = text(300_000, 31)

    for codec <- @codecs do
      {:ok, z} = Compress.compress(data, codec)
      if codec != :none, do: assert(byte_size(z) < byte_size(data))
      assert Compress.decompress(z, byte_size(data), codec: codec) == {:ok, data}
      if codec != :none, do: assert(Compress.decompress(z, byte_size(data)) == {:ok, data})
    end
  end

  test "levels" do
    data = text(100_000, 32)
    {:ok, z} = Compress.compress(data, :zstd, level: 19)
    assert Compress.decompress(z, 100_000) == {:ok, data}
    assert {:error, {:invalid_option, msg}} = Compress.compress(data, :zstd, level: 99)
    assert msg =~ "level 99"
    assert {:error, {:invalid_option, _}} = Compress.compress(data, :xz, level: "9")
    assert {:error, {:invalid_option, _}} = Compress.compress(data, :gzip)
  end

  test "the output limit is enforced for every codec" do
    data = String.duplicate("x", 1_000_000)

    for codec <- @codecs do
      {:ok, z} = Compress.compress(data, codec)
      assert {:ok, _} = Compress.decompress(z, 1_000_000, codec: codec)

      assert {:error, {:size_exceeded, msg}} = Compress.decompress(z, 999_999, codec: codec),
             "#{codec}"

      assert msg =~ "999999"
    end
  end

  test "corrupt, truncated and unknown data are errors" do
    data = random(200_000, 33)

    for codec <- [:zstd, :lz4, :xz, :bzip2] do
      {:ok, z} = Compress.compress(data, codec)
      cut = binary_part(z, 0, div(byte_size(z), 2))
      assert {:error, {kind, _}} = Compress.decompress(cut, 10_000_000, codec: codec)
      assert kind in [:truncated, :corrupt], "#{codec}: #{kind}"

      # A damaged header (random data is stored, so a flipped payload byte may pass
      # codecs without checksums).
      <<a, b, rest::binary>> = z
      flipped = <<a, Bitwise.bxor(b, 0xFF), rest::binary>>
      assert {:error, {:corrupt, _}} = Compress.decompress(flipped, 10_000_000, codec: codec)
    end

    assert {:error, {:unknown_format, _}} = Compress.decompress("plain text", 100)
    assert {:error, {:invalid_option, _}} = Compress.decompress("x", -1)
    assert {:error, {:invalid_option, _}} = Compress.decompress("x", 10, codec: :gzip)
  end

  test "frames from the zstd and xz command-line tools decode" do
    data = text(200_000, 34)

    for {tool, args} <- [{"zstd", ["-q", "-c"]}, {"xz", ["-c"]}],
        exe = System.find_executable(tool) do
      path = tmp_path("in.txt")
      File.write!(path, data)
      {z, 0} = System.cmd(exe, args ++ [path])
      File.rm_rf!(Path.dirname(path))
      assert Compress.decompress(z, byte_size(data)) == {:ok, data}
    end
  end
end

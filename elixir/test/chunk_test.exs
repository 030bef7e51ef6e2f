defmodule Chunker.ChunkTest do
  use ExUnit.Case, async: true
  import Chunker.TestHelper

  # {Elixir options, the same for the Rust CLI}
  @configs [
    {[], []},
    {[preset: :small], ["--preset", "small"]},
    {[preset: :large, hash: :blake3], ["--preset", "large", "--hash", "blake3"]},
    {[min: 64, avg: 256, max: 1024], ["--min", "64", "--avg", "256", "--max", "1024"]},
    {[min: 4097, avg: 16385, max: 65537, hash: :blake3],
     ["--min", "4097", "--avg", "16385", "--max", "65537", "--hash", "blake3"]},
    {[preset: :small, hash: nil], ["--preset", "small", "--hash", "none"]}
  ]

  defp check_equal(data) do
    for {opts, args} <- @configs do
      {:ok, chunks} = Chunker.chunk(data, opts)
      assert rows(chunks) == rust_chunks(data, args), "options #{inspect(opts)}"
      assert Enum.map(chunks, & &1.payload) |> IO.iodata_to_binary() == data
    end
  end

  test "cut points and digests equal the Rust library's on random data" do
    check_equal(random(3_000_000, 1))
    # Below and at the normal-scheduler threshold too.
    check_equal(random(65_536, 2))
    check_equal(random(1000, 3))
  end

  test "cut points and digests equal the Rust library's on text" do
    check_equal(text(2_500_000, 4))
  end

  test "cut points and digests equal the Rust library's on a real NAR" do
    case real_nar() do
      nil -> IO.puts("skipped: no nix-store to make a real NAR")
      nar -> check_equal(nar)
    end
  end

  test "payloads are sub-binaries of the input, not copies" do
    data = random(2_000_000, 5)
    {:ok, chunks} = Chunker.chunk(data, preset: :small)
    assert length(chunks) > 5

    for c <- chunks do
      # A sub-binary refers to the whole 2 MB input; a copy would refer to its own bytes.
      assert :binary.referenced_byte_size(c.payload) == byte_size(data)
      assert c.payload == binary_part(data, c.offset, c.length)
    end
  end

  test "payloads: false and hash: nil leave the fields nil" do
    data = random(500_000, 6)
    {:ok, chunks} = Chunker.chunk(data, preset: :small, payloads: false, hash: nil)
    assert Enum.all?(chunks, &(&1.payload == nil and &1.digest == nil))
    assert rows(chunks) == rust_chunks(data, ["--preset", "small", "--hash", "none"])
  end

  test "empty input has no chunks" do
    assert Chunker.chunk("") == {:ok, []}
  end

  test "digests are 32-byte binaries with hex and nix32 text forms" do
    {:ok, [c]} = Chunker.chunk("abc")
    assert byte_size(c.digest) == 32

    assert Chunker.Hash.to_hex(c.digest) ==
             "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

    assert Chunker.Hash.to_nix32(c.digest) ==
             "1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s"
  end

  describe "bad options are errors, never raises" do
    test "sizes out of range or unordered" do
      assert {:error, {:invalid_config, msg}} = Chunker.chunk("x", min: 1)
      assert msg =~ "min size 1 is out of range"
      assert {:error, {:invalid_config, _}} = Chunker.chunk("x", max: 64 * 1024 * 1024)
      assert {:error, {:invalid_config, _}} = Chunker.chunk("x", min: 8192, avg: 4096, max: 16384)
      assert {:error, {:invalid_config, _}} = Chunker.chunk("x", min: -1)
      assert {:error, {:invalid_config, _}} = Chunker.chunk("x", max: 2 ** 70)
      assert {:error, {:invalid_config, _}} = Chunker.chunk("x", max: 2 ** 64 - 1)
      assert {:error, {:invalid_config, _}} = Chunker.chunk("x", preset: :huge)
    end

    test "unknown options and wrong types" do
      assert {:error, {:invalid_option, _}} = Chunker.chunk("x", foo: 1)
      assert {:error, {:invalid_option, _}} = Chunker.chunk("x", min: "64K")
      assert {:error, {:invalid_option, _}} = Chunker.chunk("x", hash: :md5)
      assert {:error, {:invalid_option, _}} = Chunker.chunk("x", payloads: 1)
      assert {:error, {:invalid_option, _}} = Chunker.chunk("x", [:min])
    end

    test "chunk! raises Chunker.Error with the kind" do
      assert_raise Chunker.Error, ~r/out of range/, fn -> Chunker.chunk!("x", min: 1) end
    end
  end
end

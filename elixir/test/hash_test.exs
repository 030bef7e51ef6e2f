defmodule Chunker.HashTest do
  use ExUnit.Case, async: true
  import Chunker.TestHelper
  alias Chunker.Hash

  doctest Chunker.Hash

  test "SHA-256 and BLAKE3 equal :crypto and the Rust CLI, below and above 64 KiB" do
    for n <- [0, 3, 65_536, 65_537, 1_000_000] do
      data = random(n, n)
      assert Hash.hash(data) == {:ok, :crypto.hash(:sha256, data)}
      {:ok, b3} = Hash.hash(data, :blake3)
      path = tmp_path("h.bin")
      File.write!(path, data)
      {out, 0} = System.cmd(cli(), ["hash", path, "--algo", "blake3", "--encoding", "hex"])
      File.rm_rf!(Path.dirname(path))
      assert String.trim(out) =~ Hash.to_hex(b3)
    end
  end

  test "nix32 equals nix-hash and round-trips" do
    digest = :crypto.hash(:sha256, "nix32 vector")

    if exe = System.find_executable("nix-hash") do
      {out, 0} = System.cmd(exe, ["--type", "sha256", "--to-base32", Hash.to_hex(digest)])
      assert Hash.to_nix32(digest) == String.trim(out)
    end

    for n <- [0, 1, 5, 20, 32, 64, 100_000] do
      bytes = random(n, n + 1)
      assert Hash.nix32_decode(Hash.nix32_encode(bytes)) == {:ok, bytes}
    end
  end

  test "bad nix32 is an error" do
    assert {:error, {:invalid_encoding, msg}} = Hash.nix32_decode("0e")
    assert msg =~ "invalid nix32 character"
    assert {:error, {:invalid_encoding, _}} = Hash.nix32_decode("0")
    assert {:error, {:invalid_encoding, _}} = Hash.nix32_decode(<<0xFF, 0xFE>>)
    assert {:error, {:invalid_encoding, _}} = Hash.nix32_decode(String.duplicate("e", 70_000))
  end

  test "digest text forms parse and format" do
    {:ok, d} = Hash.hash("abc")
    {:ok, text} = Hash.format(:sha256, d)
    assert Hash.parse(text) == {:ok, {:sha256, d}}
    assert Hash.parse("sha256:" <> Hash.to_hex(d)) == {:ok, {:sha256, d}}
    assert Hash.parse("sha256-" <> Base.encode64(d)) == {:ok, {:sha256, d}}
    assert {:error, {:invalid_digest, _}} = Hash.parse("md5:abc")
    assert {:error, {:invalid_digest, _}} = Hash.parse(String.duplicate("a", 1000))
    assert {:error, {:invalid_option, _}} = Hash.format(:sha256, "short")
    assert {:error, {:invalid_option, _}} = Hash.hash("x", :md5)
  end
end

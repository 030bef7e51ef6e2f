defmodule Chunker.NixTest do
  use ExUnit.Case, async: true
  import Chunker.TestHelper
  alias Chunker.Nix

  # A narinfo signed by cache.nixos.org (from the library's documentation).
  @narinfo """
  StorePath: /nix/store/syd87l2rxw8cbsxmxl853h0r6pdwhwjr-curl-7.82.0-bin
  URL: nar/0i4p3ah7qk8dmz5ryxwswq0jrwm6xqqj7z4nvkmr4kl1b8a4lkxn.nar.xz
  Compression: xz
  NarHash: sha256:1b4sb93wp679q4zx9k1ignby1yna3z7c4c2ri3wphylbc2dwsys0
  NarSize: 196040
  References: 0jqd0rlxzra1rs38rdxl43yh6rxchgc6-curl-7.82.0 6w8g7njm4mck5dmjxws0z1xnrxvl81xa-glibc-2.34-115 j5jxw3iy7bbz4a57fh9g2xm2gxmyal8h-zlib-1.2.12 yxvjs9drzsphm9pcf42a4byzj1kb9m7k-openssl-1.1.1n
  Sig: cache.nixos.org-1:TsTTb3WGTZKphvYdBHXwo6weVILmTytUjLB+vcX89fOjjRicCHmKA4RCPMVLkj6TMJ4GMX3HPVWRdD1hkeKZBQ==
  """
  @nixos_key "cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY="

  test "a real cache.nixos.org narinfo verifies; a tampered one does not" do
    assert Nix.verify_narinfo(@narinfo, [@nixos_key]) == {:ok, 1}
    tampered = String.replace(@narinfo, "NarSize: 196040", "NarSize: 196041")
    assert {:error, {:verify_failed, msg}} = Nix.verify_narinfo(tampered, [@nixos_key])
    assert msg =~ "does not verify"
    assert {:error, {:verify_failed, _}} = Nix.verify_narinfo(@narinfo, [])
    {:ok, fp} = Nix.fingerprint(@narinfo)
    assert fp =~ "1;/nix/store/syd87l2rxw8cbsxmxl853h0r6pdwhwjr-curl-7.82.0-bin;sha256:1b4sb93w"
  end

  test "generated keys sign and verify, narinfo and messages" do
    {:ok, {secret, public}} = Nix.generate_key("test.example-1")
    assert Nix.public_key(secret) == {:ok, public}
    assert Nix.parse_public_key(public) == {:ok, "test.example-1"}
    {:ok, signed} = Nix.sign_narinfo(@narinfo, secret)
    assert Nix.verify_narinfo(signed, [public]) == {:ok, 1}
    assert Nix.verify_narinfo(signed, [public, @nixos_key]) == {:ok, 2}
    {:ok, sig} = Nix.sign(secret, "message")
    assert Nix.verify(public, "message", sig) == {:ok, true}
    assert Nix.verify(public, "other", sig) == {:ok, false}
  end

  test "keys from nix-store --generate-binary-cache-key work" do
    if exe = System.find_executable("nix-store") do
      dir = Path.dirname(tmp_path("k"))
      sk = Path.join(dir, "sk")
      pk = Path.join(dir, "pk")
      {_, 0} = System.cmd(exe, ["--generate-binary-cache-key", "k-1", sk, pk])
      secret = File.read!(sk)
      assert Nix.public_key(secret) == {:ok, String.trim(File.read!(pk))}
      File.rm_rf!(dir)
    end
  end

  test "bad keys and narinfo are errors" do
    assert {:error, {:invalid_key, _}} = Nix.public_key("nocolon")
    assert {:error, {:invalid_key, _}} = Nix.parse_public_key("k:notbase64!")
    assert {:error, {:invalid_key, _}} = Nix.generate_key("")
    assert {:error, {:invalid_key, _}} = Nix.verify_narinfo(@narinfo, ["bad"])
    assert {:error, {:invalid_narinfo, msg}} = Nix.fingerprint("StorePath: x\n")
    assert msg =~ "narinfo"
    assert {:error, {:invalid_narinfo, _}} = Nix.fingerprint("garbage")
    assert {:error, {:invalid_encoding, _}} = Nix.fingerprint(<<0xFF>>)
    assert {:error, {:invalid_option, _}} = Nix.verify_narinfo(@narinfo, [:atom])
  end

  test "NarHash of a path equals nix-hash" do
    dir = Path.dirname(tmp_path("x"))
    File.mkdir_p!(Path.join(dir, "bin"))
    File.write!(Path.join(dir, "bin/hello"), "#!/bin/sh\necho hi\n")
    File.chmod!(Path.join(dir, "bin/hello"), 0o755)
    File.write!(Path.join(dir, "data"), random(100_000, 41))
    {:ok, %{nar_hash: hash, nar_size: size}} = Nix.nar_hash(dir)

    if exe = System.find_executable("nix-hash") do
      {out, 0} = System.cmd(exe, ["--type", "sha256", "--base32", dir])
      assert Chunker.Hash.to_nix32(hash) == String.trim(out)
    end

    {nar, 0} = System.cmd("nix-store", ["--dump", dir])
    assert size == byte_size(nar)
    File.rm_rf!(dir)
    assert {:error, {:io, msg}} = Nix.nar_hash(dir)
    assert msg =~ "No such file"
  end
end

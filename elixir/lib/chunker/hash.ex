defmodule Chunker.Hash do
  @moduledoc """
  SHA-256 and BLAKE3 digests (32-byte binaries) and their text forms: hex and Nix
  base32 ("nix32", the alphabet and byte order Nix prints hashes in).

      iex> {:ok, d} = Chunker.Hash.hash("abc", :sha256)
      iex> Chunker.Hash.to_nix32(d)
      "1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s"
      iex> Chunker.Hash.format(:sha256, d)
      {:ok, "sha256:1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s"}
  """

  alias Chunker.{Native, Options}

  @type algorithm :: :sha256 | :blake3

  @doc "The digest of `data`: `{:ok, <<32 bytes>>}`."
  @spec hash(binary(), algorithm()) :: {:ok, <<_::256>>} | {:error, {atom(), String.t()}}
  def hash(data, algorithm \\ :sha256) when is_binary(data) do
    with {:ok, a} <- Options.algorithm(:algorithm, algorithm, false) do
      Chunker.native_by_size(data, :hash, :hash_dirty, [data, a])
    end
  end

  @doc "Lowercase hex of any binary (64 characters for a digest)."
  @spec to_hex(binary()) :: String.t()
  def to_hex(bytes) when is_binary(bytes), do: Base.encode16(bytes, case: :lower)

  @doc "Nix base32 of a digest (52 characters); `nix32_encode/1` for any binary."
  @spec to_nix32(binary()) :: String.t()
  def to_nix32(bytes) when is_binary(bytes), do: nix32_encode(bytes)

  @doc "Nix base32 of any binary."
  @spec nix32_encode(binary()) :: String.t()
  def nix32_encode(bytes) when is_binary(bytes) do
    Chunker.native_by_size(bytes, :nix32_encode, :nix32_encode_dirty, [bytes])
  end

  @doc """
  Decodes Nix base32 text: `{:ok, bytes}`, or `{:error, {:invalid_encoding, message}}`
  for a bad character, a length no byte count encodes to, or non-zero padding bits.
  """
  @spec nix32_decode(binary()) :: {:ok, binary()} | {:error, {atom(), String.t()}}
  def nix32_decode(text) when is_binary(text) do
    Chunker.native_by_size(text, :nix32_decode, :nix32_decode_dirty, [text])
  end

  @doc """
  Parses `sha256:<nix32>`, `sha256:<hex>` or SRI `sha256-<base64>` (likewise
  `blake3`): `{:ok, {algorithm, <<32 bytes>>}}`.
  """
  @spec parse(binary()) :: {:ok, {algorithm(), <<_::256>>}} | {:error, {atom(), String.t()}}
  def parse(text) when is_binary(text) do
    if byte_size(text) <= 256,
      do: Native.digest_parse(text),
      else: {:error, {:invalid_digest, "digest text is #{byte_size(text)} bytes long"}}
  end

  @doc "The `algorithm:<nix32>` text Nix writes for a digest (a NarHash)."
  @spec format(algorithm(), <<_::256>>) :: {:ok, String.t()} | {:error, {atom(), String.t()}}
  def format(algorithm, digest) when is_binary(digest) do
    with {:ok, a} <- Options.algorithm(:algorithm, algorithm, false) do
      Native.digest_format(a, digest)
    end
  end
end

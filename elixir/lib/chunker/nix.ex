defmodule Chunker.Nix do
  @moduledoc """
  Nix binary-cache formats: Ed25519 keys and signatures in Nix's `name:base64` text
  forms, narinfo fingerprints, signing and verification, and the NarHash of a path.

      {:ok, {secret, public}} = Chunker.Nix.generate_key("cache.example.org-1")
      {:ok, signed} = Chunker.Nix.sign_narinfo(narinfo_text, secret)
      {:ok, 1} = Chunker.Nix.verify_narinfo(signed, [public])

  Keys are what `nix-store --generate-binary-cache-key` writes; signatures are the
  `Sig:` values Nix writes and checks (strict verification). Errors: `:invalid_key`,
  `:invalid_narinfo`, `:verify_failed`, `:io`, `:unsupported_file_type`,
  `:invalid_encoding` (text that is not UTF-8).
  """

  alias Chunker.Native

  @doc "A new key pair from OS randomness: `{:ok, {secret_text, public_text}}`."
  @spec generate_key(String.t()) ::
          {:ok, {String.t(), String.t()}} | {:error, {atom(), String.t()}}
  def generate_key(name) when is_binary(name), do: Native.key_generate(name)

  @doc "The public key text of a secret key text."
  @spec public_key(String.t()) :: {:ok, String.t()} | {:error, {atom(), String.t()}}
  def public_key(secret) when is_binary(secret), do: Native.public_key(secret)

  @doc "Checks a public key text: `{:ok, key_name}`."
  @spec parse_public_key(String.t()) :: {:ok, String.t()} | {:error, {atom(), String.t()}}
  def parse_public_key(public) when is_binary(public), do: Native.public_key_parse(public)

  @doc "Signs `message`: `{:ok, \"name:base64\"}`."
  @spec sign(String.t(), binary()) :: {:ok, String.t()} | {:error, {atom(), String.t()}}
  def sign(secret, message) when is_binary(secret) and is_binary(message),
    do: Native.sign(secret, message)

  @doc "Whether `signature` is `public`'s signature of `message`: `{:ok, boolean}`."
  @spec verify(String.t(), binary(), String.t()) ::
          {:ok, boolean()} | {:error, {atom(), String.t()}}
  def verify(public, message, signature)
      when is_binary(public) and is_binary(message) and is_binary(signature),
      do: Native.verify(public, message, signature)

  @doc "The fingerprint a narinfo's signatures cover: `1;StorePath;NarHash;NarSize;refs`."
  @spec fingerprint(String.t()) :: {:ok, String.t()} | {:error, {atom(), String.t()}}
  def fingerprint(narinfo) when is_binary(narinfo), do: Native.narinfo_fingerprint(narinfo)

  @doc """
  Signs a narinfo as Nix does (references sorted, a signature by the same key name
  replaced): `{:ok, signed_narinfo_text}` in Nix's field order.
  """
  @spec sign_narinfo(String.t(), String.t()) :: {:ok, String.t()} | {:error, {atom(), String.t()}}
  def sign_narinfo(narinfo, secret) when is_binary(narinfo) and is_binary(secret),
    do: Native.narinfo_sign(narinfo, secret)

  @doc """
  Verifies a narinfo's signatures against trusted public keys (matched by name):
  `{:ok, count_verified}`, or `{:error, {:verify_failed, message}}` when none does.
  """
  @spec verify_narinfo(String.t(), [String.t()]) ::
          {:ok, pos_integer()} | {:error, {atom(), String.t()}}
  def verify_narinfo(narinfo, trusted) when is_binary(narinfo) and is_list(trusted) do
    if Enum.all?(trusted, &is_binary/1),
      do: Native.narinfo_verify(narinfo, trusted),
      else: {:error, {:invalid_option, "trusted keys must be a list of strings"}}
  end

  @doc """
  The NarHash and NarSize of a file-system path (what `nix-hash --type sha256 PATH`
  and Nix's `NarSize` give): `{:ok, %{nar_hash: <<32 bytes>>, nar_size: n}}`. Runs on
  a dirty I/O scheduler.
  """
  @spec nar_hash(Path.t()) ::
          {:ok, %{nar_hash: <<_::256>>, nar_size: non_neg_integer()}}
          | {:error, {atom(), String.t()}}
  def nar_hash(path) do
    path = IO.chardata_to_string(path)

    with {:ok, {hash, size}} <- Native.nar_hash(path) do
      {:ok, %{nar_hash: hash, nar_size: size}}
    end
  end
end

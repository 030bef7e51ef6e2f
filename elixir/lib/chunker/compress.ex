defmodule Chunker.Compress do
  @moduledoc """
  zstd, lz4 (frame format), xz and bzip2, as Nix binary caches use them. Every
  decompression takes a mandatory output limit.

      iex> data = String.duplicate("a NAR chunk ", 1000)
      iex> {:ok, z} = Chunker.Compress.compress(data, :zstd)
      iex> Chunker.Compress.decompress(z, 1_000_000) == {:ok, data}
      true
      iex> {:error, {:size_exceeded, _}} = Chunker.Compress.decompress(z, 100)

  Codecs: `:zstd` (levels 1..22, default 3), `:lz4` (1), `:xz` (0..9, default 6),
  `:bzip2` (1..9, default 9), `:none`. Both directions run on dirty CPU schedulers.

  Decompression errors: `:size_exceeded` (output over the limit, detected before
  anything beyond it is allocated), `:corrupt`, `:truncated` (never a shorter output),
  `:unknown_format` (no known magic bytes), `:memory_limit`.
  """

  alias Chunker.{Native, Options}

  @codecs [:none, :zstd, :lz4, :xz, :bzip2]

  @type codec :: :none | :zstd | :lz4 | :xz | :bzip2

  @doc "Compresses `data` with `codec`; option `:level` (default: the codec's)."
  @spec compress(binary(), codec(), keyword()) :: {:ok, binary()} | {:error, {atom(), String.t()}}
  def compress(data, codec, opts \\ []) when is_binary(data) do
    with :ok <- Options.keyword(opts),
         :ok <- Options.known(opts, [:level]),
         {:ok, name} <- codec_name(codec),
         {:ok, level} <- level(Keyword.get(opts, :level)) do
      Native.compress(data, name, level)
    end
  end

  @doc """
  Decompresses `data`, producing at most `max_output` bytes (mandatory). The format is
  detected from its magic bytes unless option `:codec` names it.
  """
  @spec decompress(binary(), non_neg_integer(), keyword()) ::
          {:ok, binary()} | {:error, {atom(), String.t()}}
  def decompress(data, max_output, opts \\ []) when is_binary(data) do
    with :ok <- Options.keyword(opts),
         :ok <- Options.known(opts, [:codec]),
         :ok <- limit(max_output),
         {:ok, name} <- optional_codec(Keyword.get(opts, :codec)) do
      Native.decompress(data, max_output, name)
    end
  end

  defp codec_name(c) when c in @codecs, do: {:ok, Atom.to_string(c)}

  defp codec_name(c),
    do: Options.invalid("codec must be one of #{inspect(@codecs)}, got: #{inspect(c)}")

  defp optional_codec(nil), do: {:ok, nil}
  defp optional_codec(c), do: codec_name(c)

  defp level(nil), do: {:ok, nil}
  defp level(l) when is_integer(l) and l >= -2_147_483_648 and l <= 2_147_483_647, do: {:ok, l}
  defp level(l), do: Options.invalid("level must be an integer, got: #{inspect(l)}")

  defp limit(n) when is_integer(n) and n >= 0 and n <= 0xFFFF_FFFF_FFFF_FFFF, do: :ok

  defp limit(n),
    do: Options.invalid("max_output must be a non-negative integer, got: #{inspect(n)}")
end

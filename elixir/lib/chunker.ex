defmodule Chunker do
  @moduledoc """
  Content-defined chunking (exact FastCDC v2020), hashing, compression and Nix formats,
  from the Rust library `chunker` through a NIF.

      data = File.read!("some.nar")
      {:ok, chunks} = Chunker.chunk(data, preset: :medium, hash: :sha256)
      for %Chunker.Chunk{offset: o, length: n, digest: d} <- chunks do
        IO.puts("\#{o} \#{n} \#{Chunker.Hash.to_hex(d)}")
      end

      # Lazily, with bounded memory:
      File.stream!("some.nar", [], 1_048_576)
      |> Chunker.chunk_stream(hash: :blake3)
      |> Enum.each(&store/1)

  Cut points and digests equal the Rust library's for the same bytes and options,
  whatever the feed sizes.

  ## Chunk options

    * `:preset` - `:small` (16K/64K/256K), `:medium` (64K/256K/1M, the default) or
      `:large` (256K/1M/4M)
    * `:min`, `:avg`, `:max` - sizes in bytes, overriding the preset's; allowed
      min 64..1 MiB, avg 256..4 MiB, max 1 KiB..16 MiB, min <= avg <= max
    * `:hash` - `:sha256` (default), `:blake3` or `nil` (no digests)
    * `:payloads` - whether chunks carry their bytes (default `true`; zero-copy
      sub-binaries of the input)

  ## Errors

  Functions return `{:error, {kind, message}}` with `message` a one-line string and
  `kind` one of:

    * `:invalid_option` - an unknown option, a value of the wrong type, a level or
      setting out of range
    * `:invalid_config` - chunk sizes out of range or unordered, an unknown preset
    * `:invalid_encoding`, `:invalid_digest` - text that does not decode
    * `:size_exceeded`, `:corrupt`, `:truncated`, `:unknown_format`, `:unsupported`,
      `:memory_limit` - decompression (see `Chunker.Compress`)
    * `:invalid_key`, `:invalid_narinfo`, `:verify_failed`, `:io`,
      `:unsupported_file_type` - Nix (see `Chunker.Nix`)
    * `:closed`, `:poisoned` - a `Chunker.Stream` used after `finish/1`, or whose
      state was lost to a panic

  Arguments of the wrong type (a list where a binary is expected) raise
  `FunctionClauseError` as usual. A panic inside the native code raises
  `ErlangError` with `original: :nif_panicked` in the calling process only; the VM
  keeps running.

  ## Scheduling

  No call holds a normal scheduler for more than about a millisecond: inputs over
  64 KiB (and all compression, signing and NarHash calls) run on dirty schedulers.
  See `docs/BENCHMARKS.md` ("Elixir NIF") for the measurements behind this.
  """

  alias Chunker.{Native, Options}

  @small 65_536

  @doc false
  def small_input_bytes, do: @small

  @doc false
  # Calls Chunker.Native.`normal`(args) when `bytes` is at most 64 KiB, else its
  # dirty-scheduler form `dirty`.
  def native_by_size(bytes, normal, _dirty, args) when byte_size(bytes) <= @small,
    do: apply(Native, normal, args)

  def native_by_size(_bytes, _normal, dirty, args), do: apply(Native, dirty, args)

  @doc """
  Chunks `data` in one call. Returns `{:ok, [%Chunker.Chunk{}]}` in input order; see
  the module documentation for the options.

      iex> {:ok, [chunk]} = Chunker.chunk("hello", hash: :sha256)
      iex> {chunk.offset, chunk.length, Chunker.Hash.to_hex(chunk.digest) |> binary_part(0, 8)}
      {0, 5, "2cf24dba"}
  """
  @spec chunk(binary(), keyword()) :: {:ok, [Chunker.Chunk.t()]} | {:error, {atom(), String.t()}}
  def chunk(data, opts \\ []) when is_binary(data) do
    with {:ok, native, _} <- Options.chunk(opts) do
      native_by_size(data, :chunk, :chunk_dirty, [data, native])
    end
  end

  @doc "Like `chunk/2`, but returns the list or raises `Chunker.Error`."
  @spec chunk!(binary(), keyword()) :: [Chunker.Chunk.t()]
  def chunk!(data, opts \\ []), do: Chunker.Error.unwrap!(chunk(data, opts))

  @doc """
  Chunks an enumerable of binaries (for example `File.stream!(path, [], 1_048_576)`)
  lazily: a `Stream` of `%Chunker.Chunk{}`, with the same cut points as `chunk/2` on
  the concatenation. Memory is bounded by one piece plus one maximum chunk size.
  Takes the chunk options; errors raise `Chunker.Error` when the stream is run.
  """
  @spec chunk_stream(Enumerable.t(), keyword()) :: Enumerable.t()
  def chunk_stream(enumerable, opts \\ []) do
    start = fn -> Chunker.Error.unwrap!(Chunker.Stream.new(opts)) end

    reducer = fn piece, stream ->
      {Chunker.Error.unwrap!(Chunker.Stream.feed(stream, piece)), stream}
    end

    last = fn stream ->
      {chunks, _summary} = Chunker.Error.unwrap!(Chunker.Stream.finish(stream))
      {chunks, stream}
    end

    Stream.transform(enumerable, start, reducer, last, fn _ -> :ok end)
  end
end

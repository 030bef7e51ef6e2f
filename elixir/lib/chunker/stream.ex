defmodule Chunker.Stream do
  @moduledoc """
  Incremental chunking: feed binaries of any size, get the chunks that are final.

      {:ok, s} = Chunker.Stream.new(preset: :small, stream_hash: :sha256)
      {:ok, chunks1} = Chunker.Stream.feed(s, piece1)
      {:ok, chunks2} = Chunker.Stream.feed(s, piece2)
      {:ok, {last, %{length: n, chunks: count, digest: nar_hash}}} = Chunker.Stream.finish(s)

  The cut points and digests equal `Chunker.chunk/2` on the concatenated pieces,
  whatever the piece sizes. The stream holds no more than the chunk in progress (less
  than one maximum chunk size). Payloads of chunks that lie inside one piece are
  sub-binaries of it; a chunk that spans pieces gets its own binary.

  Takes the chunk options of `Chunker` plus `:stream_hash` (`:sha256`, `:blake3` or
  `nil`, the default): a digest of the whole stream (a NarHash) in the same pass.

  ## Concurrency

  A stream is a resource: any process may use it. Calls on one stream are serialized
  (a second call waits, on a dirty scheduler, for the one in progress) and never
  interleave inside the state; the chunks each call returns belong to the bytes that
  call fed, in the order the calls were applied. Feeding one stream from two processes
  at once therefore works but makes the byte order depend on timing: give each stream
  one owner. Separate streams are independent and run in parallel.

  After `finish/1` the stream is closed: further calls return
  `{:error, {:closed, _}}`.
  """

  alias Chunker.{Native, Options}

  @typedoc "A stream handle (a NIF resource)."
  @opaque t :: reference()

  @type summary :: %{
          length: non_neg_integer(),
          chunks: non_neg_integer(),
          digest: <<_::256>> | nil
        }

  @doc "A new stream with the chunk options of `Chunker` and `:stream_hash`."
  @spec new(keyword()) :: {:ok, t()} | {:error, {atom(), String.t()}}
  def new(opts \\ []) do
    check = fn value -> Options.algorithm(:stream_hash, value, true) end

    with {:ok, native, %{stream_hash: stream_hash}} <- Options.chunk(opts, stream_hash: check) do
      Native.stream_new(native, stream_hash)
    end
  end

  @doc "Feeds the next piece; returns `{:ok, chunks}` with the chunks now final."
  @spec feed(t(), binary()) :: {:ok, [Chunker.Chunk.t()]} | {:error, {atom(), String.t()}}
  def feed(stream, data) when is_binary(data) do
    if byte_size(data) <= Chunker.small_input_bytes() do
      case Native.stream_feed(stream, data) do
        :busy -> Native.stream_feed_dirty(stream, data)
        result -> result
      end
    else
      Native.stream_feed_dirty(stream, data)
    end
  end

  @doc """
  Ends the input: `{:ok, {chunks, summary}}` with the last chunk (if any bytes
  remain) and `%{length: bytes, chunks: count, digest: whole_stream_digest_or_nil}`.
  """
  @spec finish(t()) :: {:ok, {[Chunker.Chunk.t()], summary()}} | {:error, {atom(), String.t()}}
  def finish(stream), do: Native.stream_finish(stream)
end

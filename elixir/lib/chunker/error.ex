defmodule Chunker.Error do
  @moduledoc """
  Raised where a result cannot be a tuple: by `Chunker.chunk_stream/2` while its
  stream is consumed, and by the `!` variants. `kind` is the atom of the
  `{:error, {kind, message}}` the call would have returned (see `Chunker`).
  """
  defexception [:kind, :message]

  @doc false
  def unwrap!({:ok, value}), do: value
  def unwrap!({:error, {kind, message}}), do: raise(%__MODULE__{kind: kind, message: message})
end

defmodule Chunker.Chunk do
  @moduledoc """
  One content-defined chunk.

    * `offset` - position of its first byte in the input
    * `length` - its size in bytes
    * `digest` - the 32-byte digest of its bytes (a binary; see `Chunker.Hash.to_hex/1`
      and `Chunker.Hash.to_nix32/1` for text), or `nil` when hashing is off
    * `payload` - its bytes, or `nil` when `payloads: false`. From `Chunker.chunk/2` a
      sub-binary of the input (no copy): holding it keeps the whole input alive, so
      `:binary.copy/1` it to keep it longer than its neighbours.
  """
  @enforce_keys [:offset, :length]
  defstruct [:offset, :length, :digest, :payload]

  @type t :: %__MODULE__{
          offset: non_neg_integer(),
          length: pos_integer(),
          digest: <<_::256>> | nil,
          payload: binary() | nil
        }
end

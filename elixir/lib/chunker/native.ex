defmodule Chunker.Native do
  @moduledoc false
  # NIF stubs for crates/chunker-nif, loaded from priv/chunker_nif.so. Every function
  # the .so exports needs a stub here, or loading fails. Call the public modules
  # (Chunker, Chunker.Stream, Chunker.Hash, Chunker.Compress, Chunker.Nix) instead:
  # they check options and pick the scheduler form (`name` for inputs of at most
  # `small_input_bytes/0`, `name_dirty` above).

  @on_load :load_nif

  @doc false
  def load_nif do
    path = :filename.join(:code.priv_dir(:chunker), ~c"chunker_nif")
    :erlang.load_nif(path, 0)
  end

  defp nif, do: :erlang.nif_error(:nif_not_loaded)

  def small_input_bytes, do: nif()
  def panic_for_test, do: nif()

  def chunk(_data, _options), do: nif()
  def chunk_dirty(_data, _options), do: nif()
  def rust_chunk_count(_data, _options), do: nif()
  def stream_new(_options, _stream_hash), do: nif()
  def stream_feed(_stream, _data), do: nif()
  def stream_feed_dirty(_stream, _data), do: nif()
  def stream_finish(_stream), do: nif()

  def hash(_data, _algorithm), do: nif()
  def hash_dirty(_data, _algorithm), do: nif()
  def nix32_encode(_data), do: nif()
  def nix32_encode_dirty(_data), do: nif()
  def nix32_decode(_text), do: nif()
  def nix32_decode_dirty(_text), do: nif()
  def digest_parse(_text), do: nif()
  def digest_format(_algorithm, _bytes), do: nif()

  def compress(_data, _codec, _level), do: nif()
  def decompress(_data, _max_output, _codec), do: nif()

  def key_generate(_name), do: nif()
  def public_key(_secret), do: nif()
  def public_key_parse(_public), do: nif()
  def sign(_secret, _message), do: nif()
  def verify(_public, _message, _signature), do: nif()
  def narinfo_fingerprint(_narinfo), do: nif()
  def narinfo_sign(_narinfo, _secret), do: nif()
  def narinfo_verify(_narinfo, _trusted), do: nif()
  def nar_hash(_path), do: nif()
end

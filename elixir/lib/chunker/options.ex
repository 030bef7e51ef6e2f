defmodule Chunker.Options do
  @moduledoc false
  # Checks option lists on the Elixir side (types and names); ranges are checked by the
  # Rust library, which reports them as {:invalid_config, message}.

  @chunk_keys [:preset, :min, :avg, :max, :hash, :payloads]
  @u64_max 0xFFFF_FFFF_FFFF_FFFF

  @doc false
  # {:ok, native_options_tuple, extra_values} | {:error, {:invalid_option, message}}
  def chunk(opts, extra \\ []) do
    allowed = @chunk_keys ++ Keyword.keys(extra)

    with :ok <- keyword(opts),
         :ok <- known(opts, allowed),
         {:ok, preset} <- preset(Keyword.get(opts, :preset)),
         {:ok, min} <- size(opts, :min),
         {:ok, avg} <- size(opts, :avg),
         {:ok, max} <- size(opts, :max),
         {:ok, hash} <- algorithm(:hash, Keyword.get(opts, :hash, :sha256), true),
         {:ok, payloads} <- boolean(:payloads, Keyword.get(opts, :payloads, true)),
         {:ok, extras} <- extras(opts, extra) do
      {:ok, {preset, min, avg, max, hash, payloads}, extras}
    end
  end

  @doc false
  def keyword(opts) do
    if is_list(opts) and Enum.all?(opts, &match?({k, _} when is_atom(k), &1)) do
      :ok
    else
      invalid("options must be a keyword list, got: #{inspect(opts)}")
    end
  end

  @doc false
  def known(opts, allowed) do
    case Enum.find(opts, fn {k, _} -> k not in allowed end) do
      nil -> :ok
      {k, _} -> invalid("unknown option #{inspect(k)} (allowed: #{inspect(allowed)})")
    end
  end

  @doc false
  def algorithm(_name, value, _nil_ok) when value in [:sha256, :blake3], do: {:ok, value}
  def algorithm(_name, nil, true), do: {:ok, nil}

  def algorithm(name, value, nil_ok) do
    allowed = if nil_ok, do: ":sha256, :blake3 or nil", else: ":sha256 or :blake3"
    invalid("#{name} must be #{allowed}, got: #{inspect(value)}")
  end

  @doc false
  def invalid(message), do: {:error, {:invalid_option, message}}

  defp preset(nil), do: {:ok, nil}
  defp preset(p) when p in [:small, :medium, :large], do: {:ok, Atom.to_string(p)}

  defp preset(p),
    do:
      {:error,
       {:invalid_config, "unknown preset #{inspect(p)}: expected :small, :medium or :large"}}

  defp size(opts, key) do
    case Keyword.get(opts, key) do
      nil -> {:ok, nil}
      n when is_integer(n) and n >= 0 and n <= @u64_max -> {:ok, n}
      n when is_integer(n) -> {:error, {:invalid_config, "#{key} size #{n} is out of range"}}
      other -> invalid("#{key} must be a size in bytes (an integer), got: #{inspect(other)}")
    end
  end

  defp boolean(_key, value) when is_boolean(value), do: {:ok, value}
  defp boolean(key, value), do: invalid("#{key} must be a boolean, got: #{inspect(value)}")

  defp extras(opts, extra) do
    Enum.reduce_while(extra, {:ok, %{}}, fn {key, check}, {:ok, acc} ->
      case check.(Keyword.get(opts, key)) do
        {:ok, v} -> {:cont, {:ok, Map.put(acc, key, v)}}
        error -> {:halt, error}
      end
    end)
  end
end

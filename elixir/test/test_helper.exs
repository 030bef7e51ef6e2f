defmodule Chunker.TestHelper do
  @moduledoc false
  # The oracle is the Rust library itself, through its CLI (`chunker chunk --format
  # csv`), built from the same workspace: the suite compares the NIF's cut points and
  # digests with it on the same bytes and options.

  @root Path.expand("../..", __DIR__)

  def root, do: @root

  def cli do
    case :persistent_term.get({__MODULE__, :cli}, nil) do
      nil ->
        {out, 0} =
          System.cmd("cargo", ["build", "--release", "--quiet", "-p", "chunker-cli"],
            cd: @root,
            stderr_to_stdout: true
          )

        _ = out
        target = System.get_env("CARGO_TARGET_DIR") || Path.join(@root, "target")
        path = Path.join([target, "release", "chunker"])
        :persistent_term.put({__MODULE__, :cli}, path)
        path

      path ->
        path
    end
  end

  def tmp_path(name) do
    dir =
      Path.join(
        System.tmp_dir!(),
        "chunker-exunit-#{System.os_time()}-#{:rand.uniform(1_000_000_000)}"
      )

    File.mkdir_p!(dir)
    Path.join(dir, name)
  end

  @doc "{offset, length, digest_or_nil} rows the Rust library gives for `data`."
  def rust_chunks(data, args) do
    path = tmp_path("input.bin")
    File.write!(path, data)
    {out, 0} = System.cmd(cli(), ["chunk", path, "--format", "csv" | args])
    File.rm_rf!(Path.dirname(path))

    out
    |> String.split("\n", trim: true)
    |> tl()
    |> Enum.map(fn line ->
      [o, n, d] = String.split(line, ",")
      digest = if d == "", do: nil, else: Base.decode16!(d, case: :lower)
      {String.to_integer(o), String.to_integer(n), digest}
    end)
  end

  def rows(chunks), do: Enum.map(chunks, &{&1.offset, &1.length, &1.digest})

  def random(n, seed) do
    :rand.seed(:exsss, {seed, 7, 11})
    :rand.bytes(n)
  end

  @words ~w(the store path nix derivation output hash chunk binary cache of and to a in
            is that lib share bin etc usr local include package version 1 2 3 10 2024)
  def text(n, seed) do
    :rand.seed(:exsss, {seed, 3, 5})
    words = List.to_tuple(@words)

    Stream.repeatedly(fn ->
      w = elem(words, :rand.uniform(tuple_size(words)) - 1)
      if :rand.uniform(12) == 1, do: w <> "\n", else: w <> " "
    end)
    |> Enum.reduce_while({[], 0}, fn w, {acc, len} ->
      if len >= n, do: {:halt, {acc, len}}, else: {:cont, {[acc | w], len + byte_size(w)}}
    end)
    |> elem(0)
    |> IO.iodata_to_binary()
    |> binary_part(0, n)
  end

  @doc "A real NAR (nix-store --dump of Erlang's stdlib), or nil without nix-store."
  def real_nar do
    with exe when is_binary(exe) <- System.find_executable("nix-store"),
         [dir | _] <- Path.wildcard("/usr/lib/erlang/lib/stdlib-*/ebin"),
         {nar, 0} <- System.cmd(exe, ["--dump", dir]) do
      nar
    else
      _ -> nil
    end
  end

  @doc "Splits `data` into pieces of random sizes (1 byte up to `max`)."
  def random_pieces(data, max, seed) do
    :rand.seed(:exsss, {seed, 1, 1})
    split(data, max, [])
  end

  defp split(<<>>, _max, acc), do: Enum.reverse(acc)

  defp split(data, max, acc) do
    n = min(byte_size(data), :rand.uniform(max))
    <<piece::binary-size(n), rest::binary>> = data
    split(rest, max, [piece | acc])
  end
end

# Build the oracle CLI once, before any test's timeout runs (a clean clone compiles it).
Chunker.TestHelper.cli()
ExUnit.start()

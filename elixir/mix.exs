defmodule Mix.Tasks.Compile.ChunkerNif do
  @moduledoc false
  # Builds crates/chunker-nif with cargo (release profile) and copies the shared
  # library to priv/chunker_nif.so. Hex is not needed: the project has no deps.
  use Mix.Task.Compiler

  @impl true
  def run(_args) do
    root = Path.expand("..", __DIR__)
    features = if Mix.env() in [:dev, :test], do: ["--features", "test-hooks"], else: []
    args = ["build", "--release", "--quiet", "-p", "chunker-nif"] ++ features

    case System.cmd("cargo", args, cd: root, stderr_to_stdout: true) do
      {_, 0} ->
        target = System.get_env("CARGO_TARGET_DIR") || Path.join(root, "target")
        src = Path.join([target, "release", "libchunker_nif.so"])
        dest = Path.join([__DIR__, "priv", "chunker_nif.so"])
        File.mkdir_p!(Path.dirname(dest))

        # Replace, never overwrite in place: a loaded .so must not change under the VM.
        tmp = dest <> ".tmp"
        File.cp!(src, tmp)
        File.rename!(tmp, dest)
        # Link priv/ into _build even when it did not exist before this first build.
        Mix.Project.build_structure()
        {:ok, []}

      {out, status} ->
        Mix.shell().error(out)
        Mix.raise("cargo build of chunker-nif failed (exit #{status})")
    end
  end
end

defmodule Chunker.MixProject do
  use Mix.Project

  def project do
    [
      app: :chunker,
      version: "0.1.0",
      elixir: "~> 1.14",
      start_permanent: Mix.env() == :prod,
      compilers: [:chunker_nif] ++ Mix.compilers(),
      deps: []
    ]
  end

  def application do
    [extra_applications: [:logger]]
  end
end

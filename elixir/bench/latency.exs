# Scheduler latency while the NIF works (issue 13, PAR-004).
#
#   cd elixir && mix run bench/latency.exs [chunk|compress|normal|all]
#
# 200 processes each ping a partner process every millisecond and time the round trip
# while one long call runs: chunking 256 MiB with SHA-256 (`chunk`), compressing
# 64 MiB with zstd (`compress`), and, for contrast, chunking 256 MiB with the
# normal-scheduler NIF form (`normal`: what happens without dirty schedulers).
# Prints the call's duration, the round-trip count, and p50/p99/max of two times:
#   rtt - from sending a ping to receiving its pong (the issue's round trip);
#   gap - between two completed round trips of one pinger (1 ms timer + rtt when all
#         is well): a pinger stuck behind a blocked scheduler shows here even when
#         it had no ping in flight.
# Data is deterministic (:rand seeded).

defmodule Latency do
  @pingers 200

  def echo do
    receive do
      {:ping, from, t} ->
        send(from, {:pong, t})
        echo()

      :stop ->
        :ok
    end
  end

  def pinger(echo, parent, last, acc) do
    receive do
      :stop ->
        send(echo, :stop)
        send(parent, {:samples, acc})
    after
      1 ->
        t = System.monotonic_time(:microsecond)
        send(echo, {:ping, self(), t})

        receive do
          {:pong, ^t} ->
            now = System.monotonic_time(:microsecond)
            pinger(echo, parent, now, [{now - t, now - last} | acc])
        end
    end
  end

  defp start(parent) do
    for _ <- 1..@pingers do
      echo = spawn(&echo/0)
      spawn(fn -> pinger(echo, parent, System.monotonic_time(:microsecond), []) end)
    end
  end

  defp stats(values) do
    t = values |> Enum.sort() |> List.to_tuple()
    n = tuple_size(t)
    pct = fn p -> elem(t, min(n - 1, trunc(n * p))) / 1000 end
    {pct.(0.5), pct.(0.99), elem(t, n - 1) / 1000}
  end

  def measure(label, work) do
    parent = self()
    pids = start(parent)
    Process.sleep(50)
    {us, _} = :timer.tc(work)
    Enum.each(pids, &send(&1, :stop))
    samples = Enum.flat_map(pids, fn _ -> receive do: ({:samples, s} -> s) end)
    {rtt, gap} = Enum.unzip(samples)
    {r50, r99, rmax} = stats(rtt)
    {g50, g99, gmax} = stats(gap)

    IO.puts(
      :io_lib.format(
        "~-34s call ~7.1f ms  round trips ~6B  rtt p50 ~5.2f p99 ~5.2f max ~6.2f ms  gap p50 ~5.2f p99 ~5.2f max ~6.2f ms",
        [label, us / 1000, length(rtt), r50, r99, rmax, g50, g99, gmax]
      )
    )
  end
end

which = List.first(System.argv()) || "all"
:rand.seed(:exsss, {13, 13, 13})
{:ok, load} = File.read("/proc/loadavg")
IO.puts("load average #{load |> String.split() |> Enum.take(3) |> Enum.join(" ")}")

IO.puts(
  "schedulers #{System.schedulers_online()} normal, #{:erlang.system_info(:dirty_cpu_schedulers_online)} dirty CPU; #{:erlang.system_info(:otp_release)}"
)

if which in ["chunk", "normal", "all"] do
  data = :rand.bytes(256 * 1024 * 1024)
  Latency.measure("idle (no work, 1500 ms)", fn -> Process.sleep(1500) end)

  if which in ["chunk", "all"] do
    for _ <- 1..3 do
      Latency.measure("chunk 256 MiB sha256 (dirty)", fn ->
        {:ok, _} = Chunker.chunk(data, hash: :sha256)
      end)
    end
  end

  if which in ["normal", "all"] do
    {:ok, native, _} = Chunker.Options.chunk(hash: :sha256)

    Latency.measure("chunk 256 MiB sha256 (normal NIF)", fn ->
      {:ok, _} = Chunker.Native.chunk(data, native)
    end)
  end
end

if which in ["compress", "all"] do
  # 4 bits of entropy per byte: compressible, not trivially.
  text = for <<b <- :rand.bytes(64 * 1024 * 1024)>>, into: <<>>, do: <<?a + Bitwise.band(b, 15)>>

  for _ <- 1..3 do
    Latency.measure("compress 64 MiB zstd-3 (dirty)", fn ->
      {:ok, _} = Chunker.Compress.compress(text, :zstd)
    end)
  end
end

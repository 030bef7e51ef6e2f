defmodule Chunker.SafetyTest do
  use ExUnit.Case, async: true
  import Chunker.TestHelper

  doctest Chunker

  @tag :capture_log
  test "a Rust panic raises in the caller only; the VM and the NIF keep working" do
    assert_raise ErlangError, ~r/nif_panicked/, fn -> Chunker.Native.panic_for_test() end
    # Also from a crashed process, and many times over.
    for _ <- 1..3 do
      {pid, ref} = spawn_monitor(fn -> Chunker.Native.panic_for_test() end)
      assert_receive {:DOWN, ^ref, :process, ^pid, {:nif_panicked, _}}
    end

    assert {:ok, [_]} = Chunker.chunk("still alive")
  end

  test "the Elixir and Rust sides agree on the normal-scheduler threshold" do
    assert Chunker.small_input_bytes() == Chunker.Native.small_input_bytes()
  end

  test "wrong argument types raise FunctionClauseError, not a NIF crash" do
    assert_raise FunctionClauseError, fn -> Chunker.chunk(~c"list", []) end
    assert_raise FunctionClauseError, fn -> Chunker.Hash.hash(123) end
  end

  test "calls above the threshold run on dirty schedulers, in parallel with others" do
    # 16 concurrent 4 MB chunk calls all complete and agree: dirty calls do not
    # interfere with each other or with normal-scheduler calls made meanwhile.
    data = random(4_000_000, 51)
    {:ok, expected} = Chunker.chunk(data, preset: :small)

    tasks = for _ <- 1..16, do: Task.async(fn -> Chunker.chunk(data, preset: :small) end)
    small = for i <- 1..200, do: Chunker.chunk(random(100, i))
    assert Enum.all?(Task.await_many(tasks, 60_000), &(&1 == {:ok, expected}))
    assert Enum.all?(small, &match?({:ok, [_]}, &1))
  end
end

using Xunit.Abstractions;

namespace GradientSurgery.Tests.Distributed;

/// <summary>
/// The MPI binding on two ranks of this machine: each scenario of the test host checks its results exactly on every
/// rank; these tests check that every rank reported success, or the expected failure in bounded time.
/// </summary>
public sealed class MpiCommunicatorTests(ITestOutputHelper log)
{
    [MpiFact]
    public void AllReduce_of_doubles_floats_and_the_maximum_and_Broadcast_are_exact()
    {
        var output = AssertEveryRankOk("allreduce");
        // The implementation is told by the library's exports, and Open MPI grants MPI_THREAD_MULTIPLE.
        Assert.Contains("OpenMpi, thread multiple True, Open MPI v4", output);
    }

    [MpiFact]
    public void ReduceScatterBlockSum_leaves_each_rank_its_block_of_the_sum_in_one_call_and_in_parts()
    {
        _ = AssertEveryRankOk("reducescatter");
    }

    [MpiFact]
    public void AllGather_and_AllGatherV_place_every_rank_s_block_in_rank_order()
    {
        _ = AssertEveryRankOk("allgather");
    }

    [MpiFact]
    public void A_40_MB_all_reduce_in_buckets_is_exact()
    {
        _ = AssertEveryRankOk("bucketed");
    }

    [MpiFact]
    public void A_CPU_tensor_is_all_reduced_in_place_and_other_layouts_are_refused()
    {
        _ = AssertEveryRankOk("tensor");
    }

    [MpiFact]
    public void Without_mpirun_the_process_is_a_world_of_one()
    {
        var (code, output, elapsed) = MpiRun.Direct("singleton");
        log.WriteLine($"{elapsed.TotalSeconds:F1} s\n{output}");
        Assert.True(code == 0, output);
        Assert.Contains("rank 0/1 singleton ok", output);
    }

    [MpiFact]
    public void Different_settings_fail_on_every_rank_with_a_message_instead_of_a_hang() => AssertMismatch("mismatch");

    [MpiFact]
    public void Fingerprints_of_different_lengths_are_a_mismatch_too() => AssertMismatch("mismatch", "--length");

    [MpiFact]
    public void A_rank_killed_mid_run_ends_the_job_with_a_nonzero_code_in_bounded_time()
    {
        var (code, output, elapsed) = MpiRun.Launch(2, null, "kill");
        log.WriteLine($"{elapsed.TotalSeconds:F1} s, exit code {code}\n{output}");
        Assert.Contains("rank 1/2 kills itself", output);
        Assert.NotEqual(0, code);
        Assert.DoesNotContain(" ok:", output);
        // mpirun notices the death within about a second here; the rest is the two processes' start-up.
        Assert.True(elapsed < TimeSpan.FromSeconds(30), $"mpirun took {elapsed.TotalSeconds:F1} s to end the job");
    }

    [MpiFact]
    public void An_error_that_MPI_returns_is_an_MpiException_naming_the_call_and_MPI_s_text()
    {
        var output = AssertEveryRankOk("error");
        Assert.Contains("MPI_Allreduce failed with error", output);
        Assert.Contains("MPI_ERR_COUNT", output);
    }

    [MpiFact]
    public void Abort_ends_every_rank_with_its_code()
    {
        var (code, output, elapsed) = MpiRun.Launch(2, null, "abort");
        log.WriteLine($"{elapsed.TotalSeconds:F1} s, exit code {code}\n{output}");
        Assert.Contains("rank 0/2 aborts the job", output);
        Assert.Equal(3, code);
        Assert.DoesNotContain("FAILED", output);
        Assert.True(elapsed < TimeSpan.FromSeconds(30), $"mpirun took {elapsed.TotalSeconds:F1} s to end the job");
    }

    private string AssertEveryRankOk(string scenario)
    {
        var (code, output, elapsed) = MpiRun.Launch(2, null, scenario);
        log.WriteLine($"{elapsed.TotalSeconds:F1} s\n{output}");
        Assert.True(code == 0, $"mpirun exited with {code}:\n{output}");
        Assert.Contains($"rank 0/2 {scenario} ok", output);
        Assert.Contains($"rank 1/2 {scenario} ok", output);
        return output;
    }

    private void AssertMismatch(params string[] arguments)
    {
        var (code, output, elapsed) = MpiRun.Launch(2, null, arguments);
        log.WriteLine($"{elapsed.TotalSeconds:F1} s, exit code {code}\n{output}");
        Assert.True(code == 2, $"mpirun exited with {code}, not 2:\n{output}");
        const string message = "mismatch detected: The settings differ between ranks: rank 1 has another fingerprint than rank 0 (seed, task count or parameter shapes differ).";
        Assert.Contains($"rank 0/2 {message}", output);
        Assert.Contains($"rank 1/2 {message}", output);
        Assert.True(elapsed < TimeSpan.FromSeconds(30), $"the mismatch took {elapsed.TotalSeconds:F1} s to fail");
    }
}

using GradientSurgery.Distributed;

namespace GradientSurgery.Tests.Distributed;

public sealed class LocalMpirunTests
{
    [Fact]
    public void KeepsTheRanksOnThisMachineAndPassesTheArgumentsInOrder()
    {
        var start = LocalMpirun.StartInfo("/usr/bin/mpirun", ["-np", "2", "dotnet", "gsurg.dll", "train", "--seed", "1"]);
        Assert.Equal("/usr/bin/mpirun", start.FileName);
        Assert.Equal(["-np", "2", "dotnet", "gsurg.dll", "train", "--seed", "1"], start.ArgumentList);
        Assert.False(start.UseShellExecute);
        // Either this test's defaults or what the environment running the tests chose.
        Assert.Equal(Environment.GetEnvironmentVariable("OMPI_MCA_btl") is { Length: > 0 } btl ? btl : "self,vader", start.Environment["OMPI_MCA_btl"]);
        Assert.Equal(Environment.GetEnvironmentVariable("OMPI_MCA_oob_tcp_if_include") is { Length: > 0 } oob ? oob : "lo", start.Environment["OMPI_MCA_oob_tcp_if_include"]);
        Assert.Equal(Environment.UserName == "root" || Environment.GetEnvironmentVariable("OMPI_ALLOW_RUN_AS_ROOT") is { Length: > 0 },
            start.Environment.ContainsKey("OMPI_ALLOW_RUN_AS_ROOT"));
    }

    [Fact]
    public void AUsersOwnSettingWins()
    {
        const string name = "GSURG_LOCAL_MPIRUN_TEST";
        var start = LocalMpirun.StartInfo("mpirun", []);
        LocalMpirun.SetUnlessInherited(start, name, "default");
        Assert.Equal("default", start.Environment[name]);

        Environment.SetEnvironmentVariable(name, "mine");
        try
        {
            var inherited = LocalMpirun.StartInfo("mpirun", []);
            LocalMpirun.SetUnlessInherited(inherited, name, "default");
            Assert.Equal("mine", inherited.Environment[name]);
        }
        finally
        {
            Environment.SetEnvironmentVariable(name, null);
        }
    }

    [Fact]
    public void RejectsAMissingExecutable() => Assert.Throws<ArgumentException>(() => LocalMpirun.StartInfo("", ["-np", "2"]));
}

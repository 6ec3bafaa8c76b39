using GradientSurgery.Environments.MuJoCo;

namespace GradientSurgery.Tests.Environments;

public sealed class MuJoCoTests
{
    /// <summary>
    /// A model whose sizes are known by construction, so that reading them checks the struct offsets: bodies world,
    /// box (free joint: nq 7, nv 6), pendulum (hinge: 1, 1), slider (slide joint driven by a motor: 1, 1) and hand
    /// (mocap). Geoms: floor, box, pendulum rod, slider ball, hand = 5; sites: box_site, slider_site = 2.
    /// </summary>
    internal const string KnownModel = """
        <mujoco model="known sizes">
          <option timestep="0.002" gravity="0 0 -9.81"/>
          <worldbody>
            <geom name="floor" type="plane" size="5 5 0.1"/>
            <body name="box" pos="0 0 1">
              <freejoint name="box_free"/>
              <geom name="box_geom" type="box" size="0.05 0.05 0.05" mass="1"/>
              <site name="box_site" pos="0 0 0.05"/>
            </body>
            <body name="pendulum" pos="2 0 1">
              <joint name="hinge" type="hinge" axis="0 1 0"/>
              <geom type="capsule" fromto="0 0 0 0 0 -0.5" size="0.02" mass="0.5" contype="0" conaffinity="0"/>
            </body>
            <body name="slider" pos="-2 0 0.5">
              <joint name="slide" type="slide" axis="1 0 0"/>
              <geom name="slider_geom" type="sphere" size="0.05" mass="1" contype="0" conaffinity="0"/>
              <site name="slider_site" pos="0 0 0.1"/>
            </body>
            <body name="hand" mocap="true" pos="0 2 1">
              <geom type="box" size="0.02 0.02 0.02" contype="0" conaffinity="0"/>
            </body>
          </worldbody>
          <actuator>
            <motor name="push" joint="slide" gear="1"/>
          </actuator>
        </mujoco>
        """;

    private static (double X, double Y, double Z) At(ReadOnlySpan<double> positions, int index) =>
        (positions[3 * index], positions[3 * index + 1], positions[3 * index + 2]);

    private static void Near(double expected, double actual, double tolerance) =>
        Assert.InRange(actual, expected - tolerance, expected + tolerance);

    [Fact]
    public void AvailabilityIsConsistentAndAnAbsentLibraryIsReportedWithTheDebianPackage()
    {
        if (MuJoCoLibrary.IsAvailable)
        {
            Assert.Null(MuJoCoLibrary.MissingMessage);
            MuJoCoLibrary.EnsureAvailable();
            return;
        }
        Assert.Contains(MuJoCoLibrary.DebianPackage, MuJoCoLibrary.MissingMessage);
        var thrown = Assert.Throws<MuJoCoUnavailableException>(MuJoCoLibrary.EnsureAvailable);
        Assert.Equal(MuJoCoLibrary.MissingMessage, thrown.Message);
        Assert.Throws<MuJoCoUnavailableException>(() => MjModel.FromXmlString(KnownModel));
    }

    [MuJoCoFact]
    public void TheLoadedLibraryIsVersion222()
    {
        Assert.Equal(222, MuJoCoLibrary.Version);
        Assert.Equal("2.2.2", MuJoCoLibrary.FormatVersion(MuJoCoLibrary.Version));
        // The offsets were generated from the headers of the version the loader insists on.
        Assert.Equal(MuJoCoLibrary.RequiredVersion, MjLayout.HeaderVersion);
    }

    [MuJoCoFact]
    public void AModelOfKnownSizesReadsThemThroughTheOffsets()
    {
        using var model = MjModel.FromXmlString(KnownModel);
        Assert.Equal((9, 8, 1, 5, 1, 2, 5, 3), (model.Nq, model.Nv, model.Nu, model.Nbody, model.Nmocap, model.Nsite, model.Ngeom, model.Njnt));
        Assert.Equal(0.002, model.Timestep);
        var hand = model.RequireId(MjObjectType.Body, "hand");
        Assert.Equal(4, hand);
        Assert.Equal([-1, -1, -1, -1, 0], model.BodyMocapId.ToArray());
        Assert.Equal([0, 7, 8], model.JointQposAddress.ToArray());
        Assert.Equal([0, 6, 7], model.JointDofAddress.ToArray());
        Assert.Equal(2, model.NameToId(MjObjectType.Joint, "slide"));
        Assert.Equal(0, model.NameToId(MjObjectType.Geom, "floor"));
        Assert.Equal(1, model.NameToId(MjObjectType.Site, "slider_site"));
        Assert.Equal(0, model.NameToId(MjObjectType.Actuator, "push"));
        Assert.Equal("(XML string)", model.Source);
    }

    [MuJoCoFact]
    public void WritingQposThenForwardMovesBodiesAndSites()
    {
        using var model = MjModel.FromXmlString(KnownModel);
        using var data = new MjData(model);
        var slider = model.RequireId(MjObjectType.Body, "slider");
        var site = model.RequireId(MjObjectType.Site, "slider_site");
        data.Forward();
        Assert.Equal((-2.0, 0.0, 0.5), At(data.Xpos, slider));
        Assert.Equal((-2.0, 0.0, 0.6), At(data.SiteXpos, site));

        data.Qpos[model.JointQposAddress[model.RequireId(MjObjectType.Joint, "slide")]] = 0.3;
        data.Forward();
        var (x, y, z) = At(data.Xpos, slider);
        Assert.Equal(-1.7, x, 12);
        Assert.Equal((0.0, 0.5), (y, z));
        Assert.Equal(-1.7, At(data.SiteXpos, site).X, 12);
        Assert.Equal([1, 0, 0, 0, 1, 0, 0, 0, 1], data.SiteXmat.Slice(9 * site, 9).ToArray());

        // The free joint's quaternion: a half turn about z puts the site on top of the box still on top.
        var box = model.RequireId(MjObjectType.Body, "box");
        data.Qpos[..7].CopyTo(stackalloc double[7]);
        data.Qpos[0] = 0.5;
        data.Qpos[2] = 2.0;
        data.Forward();
        Assert.Equal((0.5, 0.0, 2.0), At(data.Xpos, box));
        Assert.Equal((0.5, 0.0, 2.05), At(data.SiteXpos, model.RequireId(MjObjectType.Site, "box_site")));
        Assert.Equal([1, 0, 0, 0], data.Xquat.Slice(4 * box, 4).ToArray());
    }

    [MuJoCoFact]
    public void SettingTheMocapPositionMovesTheMocapBody()
    {
        using var model = MjModel.FromXmlString(KnownModel);
        using var data = new MjData(model);
        var hand = model.RequireId(MjObjectType.Body, "hand");
        var mocap = model.BodyMocapId[hand];
        Assert.Equal([0.0, 2.0, 1.0], data.MocapPos.Slice(3 * mocap, 3).ToArray());
        Assert.Equal([1.0, 0.0, 0.0, 0.0], data.MocapQuat.Slice(4 * mocap, 4).ToArray());
        data.MocapPos[3 * mocap] = 0.25;
        data.MocapPos[3 * mocap + 2] = 1.5;
        data.Forward();
        Assert.Equal((0.25, 2.0, 1.5), At(data.Xpos, hand));
        data.Step(10);
        Assert.Equal((0.25, 2.0, 1.5), At(data.Xpos, hand));
    }

    [MuJoCoFact]
    public void ADroppedBoxFallsUnderGravityAndTouchesTheFloorWhenItLands()
    {
        using var model = MjModel.FromXmlString(KnownModel);
        using var data = new MjData(model);
        var box = model.RequireId(MjObjectType.Body, "box");
        const int steps = 100;
        data.Step(steps);
        var t = steps * model.Timestep;
        Assert.Equal(t, data.Time, 12);
        // Semi-implicit Euler lags the exact fall by g·Δt·t/2 ≈ 0.002 here.
        Near(1.0 - 9.81 * t * t / 2, At(data.Xpos, box).Z, 0.01);
        Assert.Equal(0, data.Ncon);

        data.Step(400);
        Near(0.05, At(data.Xpos, box).Z, 0.005);
        Assert.True(data.Ncon > 0, "the resting box should touch the floor");
        Assert.False(data.IsUnstable);
    }

    [MuJoCoFact]
    public void CtrlDrivesTheSlideJoint()
    {
        using var model = MjModel.FromXmlString(KnownModel);
        using var data = new MjData(model);
        var slide = model.JointQposAddress[model.RequireId(MjObjectType.Joint, "slide")];
        data.Ctrl[0] = 1.0;
        data.Step(250);
        // A unit force on a unit mass: x = t²/2 after t = 0.5 s (to the integrator's first order).
        Near(0.125, data.Qpos[slide], 0.005);
        Assert.Equal(0.5, data.Qvel[model.JointDofAddress[model.RequireId(MjObjectType.Joint, "slide")]], 6);
        data.Reset();
        Assert.Equal(0.0, data.Ctrl[0]);
        Assert.Equal(0.0, data.Qpos[slide]);
        Assert.Equal(0.0, data.Time);
    }

    [MuJoCoFact]
    public void TheSameControlsGiveBitIdenticalStates()
    {
        using var model = MjModel.FromXmlString(KnownModel);
        using var a = new MjData(model);
        using var b = new MjData(model);
        foreach (var data in new[] { a, b })
        {
            for (var step = 0; step < 400; step++)
            {
                data.Ctrl[0] = Math.Sin(0.05 * step);
                data.Step();
            }
        }
        Assert.Equal(a.Qpos.ToArray(), b.Qpos.ToArray());
        Assert.Equal(a.Qvel.ToArray(), b.Qvel.ToArray());
        Assert.NotEqual(0.0, a.Qpos[8]);
    }

    [MuJoCoFact]
    public void ABadStateIsReportedAsUnstableUntilReset()
    {
        using var model = MjModel.FromXmlString(KnownModel);
        using var data = new MjData(model);
        data.Qvel[0] = double.NaN;
        data.Step();
        Assert.True(data.IsUnstable);
        Assert.Equal(1, data.WarningCount(MjWarning.BadQvel));
        Assert.False(double.IsNaN(data.Qvel[0]), "MuJoCo resets the state it found bad");
        Assert.Contains("qvel", MuJoCoLibrary.LastWarning, StringComparison.OrdinalIgnoreCase);
        data.Reset();
        Assert.False(data.IsUnstable);
        Assert.Equal(0, data.WarningCount(MjWarning.BadQvel));
        Assert.Throws<ArgumentOutOfRangeException>(() => data.WarningCount((MjWarning)8));
    }

    [MuJoCoFact]
    public void AMalformedModelGivesMuJoCosErrorAndThePath()
    {
        var folder = Directory.CreateTempSubdirectory("mujoco-tests-");
        try
        {
            var badValue = Path.Combine(folder.FullName, "bad-value.xml");
            File.WriteAllText(badValue, """<mujoco><worldbody><geom type="nonsense" size="1"/></worldbody></mujoco>""");
            var e = Assert.Throws<InvalidDataException>(() => MjModel.LoadXml(badValue));
            Assert.Contains(badValue, e.Message);
            Assert.Contains("nonsense", e.Message);

            var unclosed = Path.Combine(folder.FullName, "unclosed.xml");
            File.WriteAllText(unclosed, "<mujoco><worldbody>");
            e = Assert.Throws<InvalidDataException>(() => MjModel.LoadXml(unclosed));
            Assert.Contains(unclosed, e.Message);
            Assert.Contains("XML", e.Message);

            var missing = Path.Combine(folder.FullName, "missing.xml");
            Assert.Equal(missing, Assert.Throws<FileNotFoundException>(() => MjModel.LoadXml(missing)).FileName);

            var good = Path.Combine(folder.FullName, "good.xml");
            File.WriteAllText(good, KnownModel);
            using var model = MjModel.LoadXml(good);
            Assert.Equal(good, model.Source);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [MuJoCoFact]
    public void AnUnknownNameGivesMinusOneOrAClearException()
    {
        using var model = MjModel.FromXmlString(KnownModel);
        Assert.Equal(-1, model.NameToId(MjObjectType.Body, "nothing"));
        Assert.Equal(-1, model.NameToId(MjObjectType.Site, "slide"));
        var e = Assert.Throws<KeyNotFoundException>(() => model.RequireId(MjObjectType.Actuator, "nothing"));
        Assert.Contains("actuator named 'nothing'", e.Message);
        Assert.Contains(model.Source, e.Message);
    }

    [MuJoCoFact]
    public void DisposingTwiceIsSafeAndUseAfterDisposeThrows()
    {
        var model = MjModel.FromXmlString(KnownModel);
        var data = new MjData(model);
        data.Dispose();
        data.Dispose();
        Assert.Throws<ObjectDisposedException>(data.Step);
        Assert.Throws<ObjectDisposedException>(() => data.Qpos.Length);
        Assert.Throws<ObjectDisposedException>(() => data.WarningCount(MjWarning.BadQacc));
        model.Dispose();
        model.Dispose();
        Assert.Throws<ObjectDisposedException>(() => model.Nq);
        Assert.Throws<ObjectDisposedException>(() => model.NameToId(MjObjectType.Body, "box"));
        Assert.Throws<ObjectDisposedException>(() => new MjData(model));
    }

    [MuJoCoFact]
    public void DataOutliveTheirDisposedModel()
    {
        var model = MjModel.FromXmlString(KnownModel);
        using var data = new MjData(model);
        model.Dispose();
        data.Step(100);
        Assert.True(data.Qpos[2] < 1.0);
        Assert.Same(model, data.Model);
    }

    [MuJoCoFact]
    public void CreatingAndDisposingManyModelsAndDataDoesNotGrowResidentMemory()
    {
        static long Resident() => long.Parse(File.ReadAllText("/proc/self/statm").Split(' ')[1]) * Environment.SystemPageSize;
        void Churn(int models, int datas)
        {
            using var model = MjModel.FromXmlString(KnownModel);
            for (var i = 0; i < datas; i++)
            {
                using var data = new MjData(model);
                data.Step();
            }
            for (var i = 0; i < models; i++)
            {
                MjModel.FromXmlString(KnownModel).Dispose();
            }
        }
        Churn(20, 50);
        GC.Collect();
        var before = Resident();
        Churn(200, 1_000);
        GC.Collect();
        var growth = Resident() - before;
        Assert.True(growth < 8 << 20, $"resident memory grew by {growth / 1024} KiB");
    }
}

using System.Runtime.InteropServices;
using System.Text;

namespace GradientSurgery.Environments.MuJoCo;

/// <summary>
/// A compiled MuJoCo 2.2.2 model (mjModel), loaded from MJCF. Sizes and arrays are read from the native struct at
/// the offsets of <see cref="MjLayout"/>. Dispose it to free the native memory at once; data made from it keep that
/// memory alive until they are disposed too. Not thread-safe; a model may be shared by data used on other threads
/// as long as nobody disposes it meanwhile.
/// </summary>
public sealed unsafe class MjModel : IDisposable
{
    // Models are compiled one at a time: MuJoCo's compiler swaps the process-wide error handler in and out while it
    // runs and keeps the last loaded XML in global state, neither of which is safe under concurrent loads.
    private static readonly Lock s_loadLock = new();

    private const int ErrorBufferSize = 1000;

    private MjModel(MjModelHandle handle, string source) => (Handle, Source) = (handle, source);

    /// <summary>Where the model came from: the full path of its file, or "(XML string)".</summary>
    public string Source { get; }

    /// <summary>Number of generalized coordinates, the length of qpos.</summary>
    public int Nq => ReadInt(MjLayout.ModelNq);

    /// <summary>Number of degrees of freedom, the length of qvel.</summary>
    public int Nv => ReadInt(MjLayout.ModelNv);

    /// <summary>Number of actuators, the length of ctrl.</summary>
    public int Nu => ReadInt(MjLayout.ModelNu);

    /// <summary>Number of bodies, the world body included.</summary>
    public int Nbody => ReadInt(MjLayout.ModelNbody);

    /// <summary>Number of joints.</summary>
    public int Njnt => ReadInt(MjLayout.ModelNjnt);

    /// <summary>Number of geoms.</summary>
    public int Ngeom => ReadInt(MjLayout.ModelNgeom);

    /// <summary>Number of sites.</summary>
    public int Nsite => ReadInt(MjLayout.ModelNsite);

    /// <summary>Number of mocap bodies.</summary>
    public int Nmocap => ReadInt(MjLayout.ModelNmocap);

    /// <summary>The simulation time step (opt.timestep, s): the time one <see cref="MjData.Step()"/> advances.</summary>
    public double Timestep => *(double*)(Pointer + MjLayout.ModelOptTimestep);

    /// <summary>For each body, the index of its mocap data in <see cref="MjData.MocapPos"/>/<see cref="MjData.MocapQuat"/> (stride 3/4), or −1 if it is not a mocap body.</summary>
    public ReadOnlySpan<int> BodyMocapId => IntArray(MjLayout.ModelBodyMocapid, Nbody);

    /// <summary>For each joint, the index of its first coordinate in <see cref="MjData.Qpos"/> (jnt_qposadr).</summary>
    public ReadOnlySpan<int> JointQposAddress => IntArray(MjLayout.ModelJntQposadr, Njnt);

    /// <summary>For each joint, the index of its first degree of freedom in <see cref="MjData.Qvel"/> (jnt_dofadr).</summary>
    public ReadOnlySpan<int> JointDofAddress => IntArray(MjLayout.ModelJntDofadr, Njnt);

    internal MjModelHandle Handle { get; }

    private nint Pointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(Handle.IsClosed, this);
            return Handle.DangerousGetHandle();
        }
    }

    /// <summary>Loads and compiles an MJCF (or URDF) file; its includes and assets resolve relative to its folder.</summary>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
    /// <exception cref="InvalidDataException">MuJoCo rejected the model; the message holds the path and MuJoCo's error text.</exception>
    /// <exception cref="MuJoCoUnavailableException">MuJoCo 2.2.2 is not installed.</exception>
    public static MjModel LoadXml(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var native = MuJoCoLibrary.Native;
        var fullPath = Path.GetFullPath(path);
        if (!File.Exists(fullPath))
        {
            throw new FileNotFoundException($"No MuJoCo model file at '{fullPath}'.", fullPath);
        }
        return Load(native, fullPath, fullPath);
    }

    /// <summary>
    /// Compiles MJCF given as text, through a file in a fresh private temporary folder deleted afterwards (so no
    /// other process sees it half-written). Relative includes and asset files do not resolve: use <see cref="LoadXml"/> for those.
    /// </summary>
    /// <exception cref="InvalidDataException">MuJoCo rejected the model; the message holds MuJoCo's error text.</exception>
    /// <exception cref="MuJoCoUnavailableException">MuJoCo 2.2.2 is not installed.</exception>
    public static MjModel FromXmlString(string xml)
    {
        ArgumentNullException.ThrowIfNull(xml);
        var native = MuJoCoLibrary.Native;
        var folder = Directory.CreateTempSubdirectory("gradientsurgery-mjcf-");
        try
        {
            var file = Path.Combine(folder.FullName, "model.xml");
            File.WriteAllText(file, xml, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
            return Load(native, file, "(XML string)");
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    /// <summary>The id of the object of kind <paramref name="type"/> named <paramref name="name"/> (mj_name2id), or −1 if there is none.</summary>
    public int NameToId(MjObjectType type, string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var model = Pointer;
        var bytes = NullTerminatedUtf8(name);
        fixed (byte* p = bytes)
        {
            return MuJoCoLibrary.Native.NameToId(model, (int)type, p);
        }
    }

    /// <summary>The id of the object of kind <paramref name="type"/> named <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">The model has no such object; the message names the model, the kind and the name.</exception>
    public int RequireId(MjObjectType type, string name)
    {
        var id = NameToId(type, name);
        return id >= 0 ? id : throw new KeyNotFoundException($"The MuJoCo model {Source} has no {type.ToString().ToLowerInvariant()} named '{name}'.");
    }

    /// <summary>Frees the native model, or, if data made from it still live, lets the last of them free it. Safe to call twice.</summary>
    public void Dispose() => Handle.Dispose();

    private static MjModel Load(MuJoCoNative native, string file, string source)
    {
        var fileBytes = NullTerminatedUtf8(file);
        var error = new byte[ErrorBufferSize];
        nint model;
        lock (s_loadLock)
        {
            fixed (byte* f = fileBytes)
            fixed (byte* e = error)
            {
                model = native.LoadXml(f, 0, e, error.Length);
            }
        }
        if (model == 0)
        {
            var length = Array.IndexOf(error, (byte)0);
            var text = Encoding.UTF8.GetString(error, 0, length < 0 ? error.Length : length).Trim();
            throw new InvalidDataException($"MuJoCo could not load the model {source}: {(text.Length > 0 ? text : "(no error text)")}");
        }
        return new MjModel(new MjModelHandle(model), source);
    }

    private static byte[] NullTerminatedUtf8(string text)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(text) + 1];
        Encoding.UTF8.GetBytes(text, bytes);
        return bytes;
    }

    private int ReadInt(int offset) => *(int*)(Pointer + offset);

    private ReadOnlySpan<int> IntArray(int offset, int length) => new(*(int**)(Pointer + offset), length);
}

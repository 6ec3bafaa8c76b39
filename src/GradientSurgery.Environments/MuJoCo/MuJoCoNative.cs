using System.Runtime.InteropServices;

namespace GradientSurgery.Environments.MuJoCo;

/// <summary>
/// The MuJoCo 2.2.2 functions the binding calls, as unmanaged function pointers resolved once from the loaded
/// library (signatures from mujoco.h). Function pointers rather than [DllImport] keep the library's name, its
/// lookup and its version check in one place, <see cref="MuJoCoLibrary"/>, with no resolver to register.
/// </summary>
internal sealed unsafe class MuJoCoNative
{
    /// <summary>int mj_version(void).</summary>
    public readonly delegate* unmanaged<int> Version;

    /// <summary>mjModel* mj_loadXML(const char* filename, const mjVFS* vfs, char* error, int error_sz).</summary>
    public readonly delegate* unmanaged<byte*, nint, byte*, int, nint> LoadXml;

    /// <summary>void mj_deleteModel(mjModel* m).</summary>
    public readonly delegate* unmanaged<nint, void> DeleteModel;

    /// <summary>mjData* mj_makeData(const mjModel* m).</summary>
    public readonly delegate* unmanaged<nint, nint> MakeData;

    /// <summary>void mj_deleteData(mjData* d).</summary>
    public readonly delegate* unmanaged<nint, void> DeleteData;

    /// <summary>void mj_resetData(const mjModel* m, mjData* d).</summary>
    public readonly delegate* unmanaged<nint, nint, void> ResetData;

    /// <summary>void mj_step(const mjModel* m, mjData* d).</summary>
    public readonly delegate* unmanaged<nint, nint, void> Step;

    /// <summary>void mj_forward(const mjModel* m, mjData* d).</summary>
    public readonly delegate* unmanaged<nint, nint, void> Forward;

    /// <summary>int mj_name2id(const mjModel* m, int type, const char* name).</summary>
    public readonly delegate* unmanaged<nint, int, byte*, int> NameToId;

    /// <summary>Address of the global <c>void (*mju_user_error)(const char*)</c>.</summary>
    public readonly nint UserErrorHandler;

    /// <summary>Address of the global <c>void (*mju_user_warning)(const char*)</c>.</summary>
    public readonly nint UserWarningHandler;

    /// <summary>Resolves every export; throws <see cref="EntryPointNotFoundException"/> if one is missing.</summary>
    public MuJoCoNative(nint library)
    {
        Version = (delegate* unmanaged<int>)NativeLibrary.GetExport(library, "mj_version");
        LoadXml = (delegate* unmanaged<byte*, nint, byte*, int, nint>)NativeLibrary.GetExport(library, "mj_loadXML");
        DeleteModel = (delegate* unmanaged<nint, void>)NativeLibrary.GetExport(library, "mj_deleteModel");
        MakeData = (delegate* unmanaged<nint, nint>)NativeLibrary.GetExport(library, "mj_makeData");
        DeleteData = (delegate* unmanaged<nint, void>)NativeLibrary.GetExport(library, "mj_deleteData");
        ResetData = (delegate* unmanaged<nint, nint, void>)NativeLibrary.GetExport(library, "mj_resetData");
        Step = (delegate* unmanaged<nint, nint, void>)NativeLibrary.GetExport(library, "mj_step");
        Forward = (delegate* unmanaged<nint, nint, void>)NativeLibrary.GetExport(library, "mj_forward");
        NameToId = (delegate* unmanaged<nint, int, byte*, int>)NativeLibrary.GetExport(library, "mj_name2id");
        UserErrorHandler = NativeLibrary.GetExport(library, "mju_user_error");
        UserWarningHandler = NativeLibrary.GetExport(library, "mju_user_warning");
    }
}

using System.Runtime.InteropServices;

namespace GradientSurgery.Distributed;

/// <summary>Which MPI implementation the loaded library is: they agree on the C API but not on its handles' values.</summary>
public enum MpiImplementation
{
    /// <summary>Open MPI (Debian's openmpi-bin, <c>libmpi.so.40</c>): handles are addresses of exported globals. Tested.</summary>
    OpenMpi,

    /// <summary>MPICH (Debian's mpich, <c>libmpich.so.12</c>): handles are 32-bit integers. Untested.</summary>
    Mpich,
}

/// <summary>
/// An MPI handle (communicator, datatype, operation or error handler) as the C functions take it. Open MPI's handles
/// are pointers; MPICH's are <c>int</c>s, which travel here zero-extended in a pointer-sized value: in the x86-64
/// System V and AArch64 calling conventions an <c>int</c> argument occupies the low half of a 64-bit register and the
/// callee ignores the rest, so one set of function-pointer signatures serves both implementations.
/// </summary>
internal readonly record struct MpiHandle(nint Value);

/// <summary>
/// The predefined handles and constants the binding uses, for one implementation. Open MPI's come from the loaded
/// library (the addresses of its <c>ompi_mpi_*</c> globals, as its mpi.h defines them); MPICH's are a table of the
/// integer constants of MPICH's mpi.h, which MPICH keeps stable as part of its ABI. The MPICH table has not been run
/// here (installing mpich next to openmpi-bin fights over the mpirun alternative), so it is untested.
/// </summary>
internal sealed class MpiConstants
{
    /// <summary>MPI_THREAD_MULTIPLE: 3 in both implementations' enum of thread levels.</summary>
    public const int ThreadMultiple = 3;

    /// <summary>MPI_SUCCESS.</summary>
    public const int Success = 0;

    public required MpiImplementation Implementation { get; init; }

    public required MpiHandle CommWorld { get; init; }

    public required MpiHandle Byte { get; init; }

    public required MpiHandle Float { get; init; }

    public required MpiHandle Double { get; init; }

    public required MpiHandle Int64 { get; init; }

    public required MpiHandle Sum { get; init; }

    public required MpiHandle Max { get; init; }

    public required MpiHandle ErrorsReturn { get; init; }

    /// <summary>MPI_IN_PLACE: <c>(void*)1</c> in Open MPI, <c>(void*)-1</c> in MPICH.</summary>
    public required nint InPlace { get; init; }

    /// <summary>MPI_MAX_ERROR_STRING: 256 in Open MPI, 1024 in MPICH; the binding's buffer takes the larger.</summary>
    public const int MaxErrorString = 1024;

    /// <summary>Reads Open MPI's handles from the library: each is the address of an exported global.</summary>
    public static MpiConstants OpenMpi(nint library) => new()
    {
        Implementation = MpiImplementation.OpenMpi,
        CommWorld = Export(library, "ompi_mpi_comm_world"),
        Byte = Export(library, "ompi_mpi_byte"),
        Float = Export(library, "ompi_mpi_float"),
        Double = Export(library, "ompi_mpi_double"),
        // MPI_INT64_T; MPI_LONG_LONG_INT (ompi_mpi_long_long_int) is the same 8-byte integer on every 64-bit platform.
        Int64 = Export(library, "ompi_mpi_int64_t"),
        Sum = Export(library, "ompi_mpi_op_sum"),
        Max = Export(library, "ompi_mpi_op_max"),
        ErrorsReturn = Export(library, "ompi_mpi_errors_return"),
        InPlace = 1,
    };

    /// <summary>MPICH's integer handles, from its mpi.h (untested here).</summary>
    public static MpiConstants Mpich() => new()
    {
        Implementation = MpiImplementation.Mpich,
        CommWorld = new(0x44000000),
        Byte = new(0x4c00010d),
        Float = new(0x4c00040a),
        Double = new(0x4c00080b),
        Int64 = new(0x4c00083a),
        Sum = new(0x58000003),
        Max = new(0x58000001),
        ErrorsReturn = new(0x54000001),
        InPlace = -1,
    };

    private static MpiHandle Export(nint library, string name) => new(NativeLibrary.GetExport(library, name));
}

/// <summary>
/// The MPI functions the binding calls, as unmanaged function pointers resolved once from the loaded library
/// (signatures from the MPI standard's C bindings; handles as <see cref="nint"/>, see <see cref="MpiHandle"/>).
/// </summary>
/// <remarks>
/// A binding of our own rather than a package: the NuGet package MPI.NET is Windows-only (its imports name msmpi.dll
/// and bake in MS-MPI's handle values), and it crashes on Open MPI. The handful of collectives data-parallel
/// training needs is small enough to bind directly. Function pointers rather than [DllImport] keep the library's
/// lookup in one place, <see cref="MpiLibrary"/>, with no resolver to register.
/// </remarks>
internal sealed unsafe class MpiNative
{
    public readonly MpiConstants Constants;

    /// <summary>int MPI_Initialized(int* flag).</summary>
    public readonly delegate* unmanaged<int*, int> Initialized;

    /// <summary>int MPI_Finalized(int* flag).</summary>
    public readonly delegate* unmanaged<int*, int> Finalized;

    /// <summary>int MPI_Init_thread(int* argc, char*** argv, int required, int* provided).</summary>
    public readonly delegate* unmanaged<int*, byte***, int, int*, int> InitThread;

    /// <summary>int MPI_Finalize(void).</summary>
    public readonly delegate* unmanaged<int> Finalize;

    /// <summary>int MPI_Abort(MPI_Comm comm, int errorcode).</summary>
    public readonly delegate* unmanaged<nint, int, int> Abort;

    /// <summary>int MPI_Comm_rank(MPI_Comm comm, int* rank).</summary>
    public readonly delegate* unmanaged<nint, int*, int> CommRank;

    /// <summary>int MPI_Comm_size(MPI_Comm comm, int* size).</summary>
    public readonly delegate* unmanaged<nint, int*, int> CommSize;

    /// <summary>int MPI_Comm_set_errhandler(MPI_Comm comm, MPI_Errhandler errhandler).</summary>
    public readonly delegate* unmanaged<nint, nint, int> CommSetErrhandler;

    /// <summary>int MPI_Barrier(MPI_Comm comm).</summary>
    public readonly delegate* unmanaged<nint, int> Barrier;

    /// <summary>int MPI_Allreduce(const void* sendbuf, void* recvbuf, int count, MPI_Datatype, MPI_Op, MPI_Comm).</summary>
    public readonly delegate* unmanaged<void*, void*, int, nint, nint, nint, int> Allreduce;

    /// <summary>int MPI_Reduce_scatter_block(const void* sendbuf, void* recvbuf, int recvcount, MPI_Datatype, MPI_Op, MPI_Comm).</summary>
    public readonly delegate* unmanaged<void*, void*, int, nint, nint, nint, int> ReduceScatterBlock;

    /// <summary>int MPI_Allgather(const void* sendbuf, int sendcount, MPI_Datatype, void* recvbuf, int recvcount, MPI_Datatype, MPI_Comm).</summary>
    public readonly delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int> Allgather;

    /// <summary>int MPI_Allgatherv(const void* sendbuf, int sendcount, MPI_Datatype, void* recvbuf, const int* recvcounts, const int* displs, MPI_Datatype, MPI_Comm).</summary>
    public readonly delegate* unmanaged<void*, int, nint, void*, int*, int*, nint, nint, int> Allgatherv;

    /// <summary>int MPI_Bcast(void* buffer, int count, MPI_Datatype, int root, MPI_Comm).</summary>
    public readonly delegate* unmanaged<void*, int, nint, int, nint, int> Bcast;

    /// <summary>int MPI_Error_string(int errorcode, char* string, int* resultlen).</summary>
    public readonly delegate* unmanaged<int, byte*, int*, int> ErrorString;

    /// <summary>int MPI_Get_library_version(char* version, int* resultlen).</summary>
    public readonly delegate* unmanaged<byte*, int*, int> GetLibraryVersion;

    /// <summary>Resolves every export; throws <see cref="EntryPointNotFoundException"/> if one is missing.</summary>
    public MpiNative(nint library, MpiConstants constants)
    {
        Constants = constants;
        Initialized = (delegate* unmanaged<int*, int>)NativeLibrary.GetExport(library, "MPI_Initialized");
        Finalized = (delegate* unmanaged<int*, int>)NativeLibrary.GetExport(library, "MPI_Finalized");
        InitThread = (delegate* unmanaged<int*, byte***, int, int*, int>)NativeLibrary.GetExport(library, "MPI_Init_thread");
        Finalize = (delegate* unmanaged<int>)NativeLibrary.GetExport(library, "MPI_Finalize");
        Abort = (delegate* unmanaged<nint, int, int>)NativeLibrary.GetExport(library, "MPI_Abort");
        CommRank = (delegate* unmanaged<nint, int*, int>)NativeLibrary.GetExport(library, "MPI_Comm_rank");
        CommSize = (delegate* unmanaged<nint, int*, int>)NativeLibrary.GetExport(library, "MPI_Comm_size");
        CommSetErrhandler = (delegate* unmanaged<nint, nint, int>)NativeLibrary.GetExport(library, "MPI_Comm_set_errhandler");
        Barrier = (delegate* unmanaged<nint, int>)NativeLibrary.GetExport(library, "MPI_Barrier");
        Allreduce = (delegate* unmanaged<void*, void*, int, nint, nint, nint, int>)NativeLibrary.GetExport(library, "MPI_Allreduce");
        ReduceScatterBlock = (delegate* unmanaged<void*, void*, int, nint, nint, nint, int>)NativeLibrary.GetExport(library, "MPI_Reduce_scatter_block");
        Allgather = (delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int>)NativeLibrary.GetExport(library, "MPI_Allgather");
        Allgatherv = (delegate* unmanaged<void*, int, nint, void*, int*, int*, nint, nint, int>)NativeLibrary.GetExport(library, "MPI_Allgatherv");
        Bcast = (delegate* unmanaged<void*, int, nint, int, nint, int>)NativeLibrary.GetExport(library, "MPI_Bcast");
        ErrorString = (delegate* unmanaged<int, byte*, int*, int>)NativeLibrary.GetExport(library, "MPI_Error_string");
        GetLibraryVersion = (delegate* unmanaged<byte*, int*, int>)NativeLibrary.GetExport(library, "MPI_Get_library_version");
    }

    /// <summary>MPI's text for an error code, or the bare code if MPI cannot say.</summary>
    public string DescribeError(int code)
    {
        var buffer = stackalloc byte[MpiConstants.MaxErrorString + 1];
        var length = 0;
        if (ErrorString(code, buffer, &length) != MpiConstants.Success || length <= 0)
        {
            return $"MPI error {code}";
        }
        return Marshal.PtrToStringUTF8((nint)buffer, Math.Min(length, MpiConstants.MaxErrorString));
    }

    /// <summary>The library's version line (MPI_Get_library_version), e.g. "Open MPI v4.1.4, …".</summary>
    public string LibraryVersion()
    {
        // MPI_MAX_LIBRARY_VERSION_STRING is 256 in Open MPI and 8192 in MPICH.
        const int capacity = 8192;
        var buffer = new byte[capacity + 1];
        var length = 0;
        fixed (byte* p = buffer)
        {
            if (GetLibraryVersion(p, &length) != MpiConstants.Success)
            {
                return Constants.Implementation.ToString();
            }
        }
        var text = System.Text.Encoding.UTF8.GetString(buffer, 0, Math.Clamp(length, 0, capacity));
        // Open MPI's line ends in a NUL and a newline; keep the first line only.
        var end = text.IndexOfAny(['\0', '\n']);
        return (end >= 0 ? text[..end] : text).Trim();
    }
}

namespace GradientSurgery.Distributed;

/// <summary>
/// An MPI call returned an error code. The message names the call and gives MPI's own text for the code
/// (MPI_Error_string). The binding asks MPI to return errors rather than abort (MPI_ERRORS_RETURN on the world
/// communicator), so that they surface here; a rank that died is still handled by mpirun, which ends the job.
/// </summary>
public sealed class MpiException : Exception
{
    /// <summary>Creates the exception for a failed call.</summary>
    /// <param name="call">The MPI function, e.g. "MPI_Allreduce".</param>
    /// <param name="errorCode">The code it returned.</param>
    /// <param name="description">MPI's text for the code.</param>
    public MpiException(string call, int errorCode, string description)
        : base($"{call} failed with error {errorCode}: {description}")
    {
        Call = call;
        ErrorCode = errorCode;
    }

    /// <summary>The MPI function that failed.</summary>
    public string Call { get; }

    /// <summary>The error code it returned (an MPI error class or code).</summary>
    public int ErrorCode { get; }
}

namespace GradientSurgery.Cli;

/// <summary>A command-line value that parses but cannot be used (unknown method, unwritable directory, …): exit code 2.</summary>
public sealed class UsageException(string message, Exception? inner = null) : Exception(message, inner);

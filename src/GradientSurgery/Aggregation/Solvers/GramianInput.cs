namespace GradientSurgery.Aggregation.Solvers;

/// <summary>
/// The shape check of a matrix handed to a method defined for any square matrix (PCGrad's coefficients, the
/// conflict report); every other method takes a <see cref="CheckedGramian"/>.
/// </summary>
internal static class GramianInput
{
    /// <summary>Throws unless <paramref name="gramian"/> is a non-empty square matrix.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="gramian"/> is null.</exception>
    /// <exception cref="ArgumentException">The matrix is empty or not square.</exception>
    public static void RequireSquare(double[,] gramian, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(gramian, parameterName);
        if (gramian.GetLength(0) != gramian.GetLength(1) || gramian.GetLength(0) < 1)
        {
            throw new ArgumentException(
                $"The Gramian must be a non-empty square matrix, but it is {gramian.GetLength(0)}×{gramian.GetLength(1)}.", parameterName);
        }
    }
}

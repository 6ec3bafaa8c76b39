namespace GradientSurgery.Aggregation.Solvers;

/// <summary>
/// The CAGrad sub-problem in Gramian space: w ∈ simplex minimising F(w) = g_wᵀg_0 + √φ‖g_w‖, and the
/// resulting update weights (update = Σ_i λ_i g_i with λ = 1/T + (√φ/‖g_w‖) w).
/// </summary>
/// <remarks>
/// <para>
/// With v = (1/T)·1, b = Gv (b_i = g_iᵀg_0), √φ = c‖g_0‖ = c·√(vᵀGv) and ‖g_w‖ = √(wᵀGw), F is convex on the
/// simplex. It is minimised by a log-barrier interior-point method: Newton steps on F(w) − μ Σ ln w_i
/// restricted to Σ w_i = 1 (the equality is eliminated in the KKT solve), with fraction-to-boundary and
/// Armijo line searches (full steps once near the central path), for μ = σ, σ/100, …, 1e-15·σ/T where σ
/// bounds |F|; the suboptimality is then at most T·μ = 1e-15·σ. The barrier's residue (inactive weights of
/// order μ) is then removed by an exact Newton solve of F on the face of the remaining support, kept only if
/// it is positive there and satisfies the optimality conditions (∂F/∂w_i ≥ ν with equality on the support)
/// off it. Hand-written because T ≤ 100 makes a dense Newton method cheap, and no kept .NET package solves
/// this small second-order-cone problem without a heavy native dependency (the official code calls scipy's
/// SLSQP, TorchJD calls cvxpy).
/// </para>
/// <para>
/// Degenerate cases. ‖g_w‖ is not differentiable where g_w = 0, which happens when 0 is in the convex hull
/// of the gradients (opposite gradients, a zero gradient); there the minimiser of F may have g_w = 0 and the
/// paper's update g_0 + (√φ/‖g_w‖) g_w is 0/0. Two treatments keep the result defined and primal optimal:
/// (1) a task whose gradient is exactly 0 gains nothing from any step (g_iᵀd = 0) and only caps the worst
/// improvement at 0, so it is left out of the max–min (it still counts in g_0): the max–min over the others
/// is then also a maximiser of the full primal problem; (2) inside the norm the Gramian gets the relative
/// ridge η·diag G (η = 1e-12), i.e. each gradient a private orthogonal component of norm √η‖g_i‖, so that
/// ‖g_w‖ never vanishes on the simplex. The update stays inside the paper's ball (‖d − g_0‖ ≤ c‖g_0‖ exactly,
/// since the regularised norm is the larger), moves by a relative O(η) when g_w* is not small, and at a
/// degenerate point is within O(√η)·c‖g_0‖ max_i‖g_i‖ of the optimal worst-case improvement.
/// </para>
/// </remarks>
internal static class CAGradDualSolver
{
    /// <summary>The default relative ridge η inside ‖g_w‖.</summary>
    public const double DefaultRidge = 1e-12;

    private const int MaxNewtonStepsPerStage = 200;

    /// <summary>Solves the CAGrad dual for a checked Gramian.</summary>
    /// <param name="gramian">A Gramian that passed <see cref="CheckedGramian"/>.</param>
    /// <param name="c">c ≥ 0.</param>
    /// <param name="ridge">η &gt; 0.</param>
    public static CAGradSolution Solve(double[,] gramian, double c, double ridge = DefaultRidge)
    {
        ArgumentNullException.ThrowIfNull(gramian);
        if (!(c >= 0.0) || !double.IsFinite(c))
        {
            throw new ArgumentOutOfRangeException(nameof(c), c, "c must be non-negative and finite.");
        }
        if (!(ridge > 0.0) || !double.IsFinite(ridge))
        {
            throw new ArgumentOutOfRangeException(nameof(ridge), ridge, "The ridge must be positive and finite.");
        }
        var taskCount = gramian.GetLength(0);
        var mean = 1.0 / taskCount;
        var total = 0.0;
        for (var i = 0; i < taskCount; i++)
        {
            for (var j = 0; j < taskCount; j++)
            {
                total += gramian[i, j];
            }
        }
        var meanNormSquared = total * mean * mean;
        var weights = Enumerable.Repeat(mean, taskCount).ToArray();
        var dual = new double[taskCount];
        if (c == 0.0 || !(meanNormSquared > 0.0))
        {
            // √φ = 0: the ball is the single point g_0 (c = 0, or all the gradients cancel).
            return new CAGradSolution(weights, dual, 0.0, 0.0, 0);
        }

        var prepared = PsdGramian.Prepare(gramian, ridge);
        var active = prepared.Active;
        var m = active.Length;
        var scale = prepared.Scale;
        var b = new double[m];
        for (var k = 0; k < m; k++)
        {
            var sum = 0.0;
            for (var j = 0; j < taskCount; j++)
            {
                sum += gramian[active[k], j];
            }
            b[k] = sum * mean / scale;
        }
        var radius = c * Math.Sqrt(meanNormSquared / scale);
        var a = prepared.Regularized;

        var w = Enumerable.Repeat(1.0 / m, m).ToArray();
        var steps = 0;
        if (m > 1)
        {
            steps = Minimize(a, b, radius, w);
        }

        var kappa = Math.Sqrt(DenseLinearAlgebra.Quadratic(a, w));
        var multiplier = radius / kappa;
        for (var k = 0; k < m; k++)
        {
            dual[active[k]] = w[k];
            weights[active[k]] += multiplier * w[k];
        }
        return new CAGradSolution(weights, dual, radius * Math.Sqrt(scale), kappa * Math.Sqrt(scale), steps);
    }

    /// <summary>
    /// The barrier method and the final polish; <paramref name="w"/> enters as a point of the simplex's interior
    /// and leaves as the minimiser. Returns the Newton steps taken.
    /// </summary>
    private static int Minimize(double[,] a, double[] b, double radius, double[] w)
    {
        var m = w.Length;
        var maxDiagonal = 0.0;
        var maxB = 0.0;
        for (var i = 0; i < m; i++)
        {
            maxDiagonal = Math.Max(maxDiagonal, a[i, i]);
            maxB = Math.Max(maxB, Math.Abs(b[i]));
        }
        // |F| ≤ σ on the simplex: the barrier weight starts at the objective's scale.
        var sigma = maxB + radius * Math.Sqrt(maxDiagonal);
        var finalMu = 1e-15 * sigma / m;
        var steps = 0;
        for (var mu = sigma; ; mu = Math.Max(mu / 100, finalMu))
        {
            var last = mu <= finalMu;
            // Intermediate stages only need to be near the central path; the last runs to rounding.
            var tolerance = last ? 1e-28 * sigma : 1e-6 * mu;
            var bestDecrement = double.PositiveInfinity;
            var sinceBest = 0;
            for (var iteration = 0; iteration < MaxNewtonStepsPerStage; iteration++)
            {
                steps++;
                var (step, gradient) = NewtonDirection(a, b, radius, mu, w);
                var decrement = 0.0;
                for (var i = 0; i < m; i++)
                {
                    decrement -= gradient[i] * step[i];
                }
                if (decrement < 0.9 * bestDecrement)
                {
                    bestDecrement = decrement;
                    sinceBest = 0;
                }
                // Centred; or stalled, where the decrement stops shrinking: at the rounding floor, or where a
                // degenerate problem's ridge-smoothed kink makes the damped steps tiny (the polish finishes).
                if (!(decrement > tolerance) || ++sinceBest > 5)
                {
                    break;
                }
                if (decrement <= 0.1 * mu)
                {
                    // Close to the centre the full Newton step converges quadratically, and F − μΣ ln w can no
                    // longer resolve the progress (it is below the objective's rounding once μ is tiny).
                    var t = StepToBoundary(w, step);
                    for (var i = 0; i < m; i++)
                    {
                        w[i] += t * step[i];
                    }
                }
                else if (!DampedStep(a, b, radius, mu, w, step, decrement))
                {
                    break;
                }
            }
            if (last)
            {
                break;
            }
        }
        var sum = w.Sum();
        for (var i = 0; i < m; i++)
        {
            w[i] /= sum;
        }
        steps += Polish(a, b, radius, sigma, w);
        return steps;
    }

    /// <summary>
    /// Removes the barrier's residue: the inactive w_i ≈ μ/(∂F/∂w_i − ν) are set to 0 and F is minimised
    /// exactly on the face of the remaining support by Newton's method, which converges quadratically there.
    /// The result is kept only if it is positive on the support, satisfies the optimality conditions off it,
    /// and is not worse; otherwise (e.g. a weight that is genuinely tiny but positive) the barrier point stays.
    /// Returns the Newton steps taken.
    /// </summary>
    private static int Polish(double[,] a, double[] b, double radius, double sigma, double[] w)
    {
        var m = w.Length;
        var support = Enumerable.Range(0, m).Where(i => w[i] > 1e-9).ToArray();
        var k = support.Length;
        var candidate = new double[m];
        var supportSum = support.Sum(i => w[i]);
        foreach (var i in support)
        {
            candidate[i] = w[i] / supportSum;
        }
        var steps = 0;
        for (; steps < 30; steps++)
        {
            var (gradient, aw, kappa) = Gradient(a, b, radius, candidate);
            var kappaCubed = kappa * kappa * kappa;
            var gamma = radius * Math.Sqrt(MaxDiagonal(a)) / kappa;
            var hessian = new double[k, k];
            var negativeGradient = new double[k];
            var ones = new double[k];
            for (var p = 0; p < k; p++)
            {
                var i = support[p];
                negativeGradient[p] = -gradient[i];
                ones[p] = 1.0;
                for (var q = 0; q < k; q++)
                {
                    var j = support[q];
                    hessian[p, q] = radius * (a[i, j] / kappa - aw[i] * aw[j] / kappaCubed) + gamma;
                }
            }
            var lower = DenseLinearAlgebra.CholeskyWithShift(hessian);
            var x = DenseLinearAlgebra.CholeskySolve(lower, negativeGradient);
            var y = DenseLinearAlgebra.CholeskySolve(lower, ones);
            var ratio = x.Sum() / y.Sum();
            var largest = 0.0;
            for (var p = 0; p < k; p++)
            {
                var delta = x[p] - ratio * y[p];
                candidate[support[p]] += delta;
                largest = Math.Max(largest, Math.Abs(delta));
            }
            if (support.Any(i => !(candidate[i] > 0.0)))
            {
                return steps + 1;
            }
            if (largest <= 1e-15)
            {
                break;
            }
        }

        var (finalGradient, _, _) = Gradient(a, b, radius, candidate);
        var nu = support.Sum(i => candidate[i] * finalGradient[i]);
        var optimal = Enumerable.Range(0, m).All(i => finalGradient[i] >= nu - 1e-13 * sigma);
        var notWorse = Objective(a, b, radius, 0.0, candidate, allowZeros: true)
            <= Objective(a, b, radius, 0.0, w, allowZeros: true) + 1e-14 * sigma;
        if (optimal && notWorse)
        {
            Array.Copy(candidate, w, m);
        }
        return steps + 1;
    }

    /// <summary>∂F/∂w = b + r A w / κ, with A w and κ = √(wᵀAw).</summary>
    private static (double[] Gradient, double[] Aw, double Kappa) Gradient(double[,] a, double[] b, double radius, double[] w)
    {
        var m = w.Length;
        var aw = new double[m];
        for (var i = 0; i < m; i++)
        {
            aw[i] = DenseLinearAlgebra.RowDot(a, i, w);
        }
        var kappa = Math.Sqrt(DenseLinearAlgebra.Dot(w, aw));
        var gradient = new double[m];
        for (var i = 0; i < m; i++)
        {
            gradient[i] = b[i] + radius * aw[i] / kappa;
        }
        return (gradient, aw, kappa);
    }

    /// <summary>
    /// The Newton step of F − μΣ ln w restricted to Σ w_i = 1, and the gradient of that function: with H its
    /// Hessian, Δ = x − (1ᵀx / 1ᵀy) y where H x = −∇ and H y = 1 solves the KKT system of the equality.
    /// </summary>
    private static (double[] Step, double[] Gradient) NewtonDirection(double[,] a, double[] b, double radius, double mu, double[] w)
    {
        var m = w.Length;
        var aw = new double[m];
        for (var i = 0; i < m; i++)
        {
            aw[i] = DenseLinearAlgebra.RowDot(a, i, w);
        }
        var kappa = Math.Sqrt(DenseLinearAlgebra.Dot(w, aw));
        var kappaCubed = kappa * kappa * kappa;
        var gradient = new double[m];
        var hessian = new double[m, m];
        for (var i = 0; i < m; i++)
        {
            gradient[i] = b[i] + radius * aw[i] / kappa - mu / w[i];
            for (var j = 0; j <= i; j++)
            {
                hessian[i, j] = hessian[j, i] = radius * (a[i, j] / kappa - aw[i] * aw[j] / kappaCubed);
            }
        }
        // F's norm term is 1-homogeneous, so its Hessian is singular along w itself; once μ is small that makes
        // H nearly singular and x, y below huge and cancelling. Adding γ11ᵀ leaves the equality-constrained step
        // unchanged (1ᵀΔ = 0) and removes the near-singularity, since 1ᵀw = 1 ≠ 0.
        var gamma = radius * Math.Sqrt(MaxDiagonal(a)) / kappa;
        for (var i = 0; i < m; i++)
        {
            for (var j = 0; j < m; j++)
            {
                hessian[i, j] += gamma;
            }
            hessian[i, i] += mu / (w[i] * w[i]);
        }
        var lower = DenseLinearAlgebra.CholeskyWithShift(hessian);
        var negativeGradient = new double[m];
        var ones = new double[m];
        for (var i = 0; i < m; i++)
        {
            negativeGradient[i] = -gradient[i];
            ones[i] = 1.0;
        }
        var x = DenseLinearAlgebra.CholeskySolve(lower, negativeGradient);
        var y = DenseLinearAlgebra.CholeskySolve(lower, ones);
        var ratio = x.Sum() / y.Sum();
        var step = new double[m];
        for (var i = 0; i < m; i++)
        {
            step[i] = x[i] - ratio * y[i];
        }
        return (step, gradient);
    }

    /// <summary>The largest t ≤ 1 that keeps at least 1% of every w_i (positivity).</summary>
    private static double StepToBoundary(double[] w, double[] step)
    {
        var t = 1.0;
        for (var i = 0; i < w.Length; i++)
        {
            if (step[i] < 0.0)
            {
                t = Math.Min(t, 0.99 * w[i] / -step[i]);
            }
        }
        return t;
    }

    /// <summary>A step with Armijo backtracking on F − μΣ ln w; false when none decreases it.</summary>
    private static bool DampedStep(double[,] a, double[] b, double radius, double mu, double[] w, double[] step, double decrement)
    {
        var m = w.Length;
        var t = StepToBoundary(w, step);
        var value = Objective(a, b, radius, mu, w);
        var trial = new double[m];
        for (var attempt = 0; attempt < 60; attempt++)
        {
            for (var i = 0; i < m; i++)
            {
                trial[i] = w[i] + t * step[i];
            }
            if (Objective(a, b, radius, mu, trial) <= value - 1e-4 * t * decrement)
            {
                Array.Copy(trial, w, m);
                return true;
            }
            t *= 0.5;
        }
        return false;
    }

    /// <summary>
    /// F(w) − μ Σ ln w_i; +∞ outside the positive orthant (with <paramref name="allowZeros"/>, zero weights
    /// are skipped in the barrier sum: used with μ = 0 to compare points on the boundary).
    /// </summary>
    private static double Objective(double[,] a, double[] b, double radius, double mu, double[] w, bool allowZeros = false)
    {
        var barrier = 0.0;
        foreach (var wi in w)
        {
            if (allowZeros && wi == 0.0)
            {
                continue;
            }
            if (!(wi > 0.0))
            {
                return double.PositiveInfinity;
            }
            barrier += Math.Log(wi);
        }
        return DenseLinearAlgebra.Dot(b, w) + radius * Math.Sqrt(Math.Max(0.0, DenseLinearAlgebra.Quadratic(a, w))) - mu * barrier;
    }

    private static double MaxDiagonal(double[,] a)
    {
        var max = 0.0;
        for (var i = 0; i < a.GetLength(0); i++)
        {
            max = Math.Max(max, a[i, i]);
        }
        return max;
    }
}

/// <summary>The result of <see cref="CAGradDualSolver.Solve"/>.</summary>
/// <param name="Weights">λ: the update is Σ_i λ_i g_i = g_0 + (√φ/‖g_w‖) g_w.</param>
/// <param name="DualWeights">w ∈ simplex, the minimiser of F (0 for zero gradients; all 0 when √φ = 0).</param>
/// <param name="Radius">√φ = c‖g_0‖, in the Gramian's units (a norm).</param>
/// <param name="Norm">The (ridge-regularised) ‖g_w‖ used in the update, in the same units.</param>
/// <param name="NewtonSteps">Newton steps taken.</param>
internal sealed record CAGradSolution(double[] Weights, double[] DualWeights, double Radius, double Norm, int NewtonSteps);

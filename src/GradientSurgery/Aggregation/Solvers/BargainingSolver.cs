namespace GradientSurgery.Aggregation.Solvers;

/// <summary>
/// Solves the bargaining condition (G + ρ·diag G) w = w^(−p) (element-wise, w &gt; 0) shared by Nash-MTL
/// (p = 1: Gα = 1/α) and FairGrad (p = 1/α: Gw = w^(−1/α)).
/// </summary>
/// <remarks>
/// <para>
/// The condition is the stationarity condition of the strictly convex problem
/// min_{w &gt; 0} Φ(w) = ½ wᵀAw − Σ_i h(w_i), with A = G + ρ·diag G and h'(w) = w^(−p), i.e. h = ln for
/// p = 1 and h(w) = w^(1−p)/(1−p) otherwise: −h is strictly convex and A positive semi-definite, so Φ has at
/// most one stationary point. It is found by Newton's method: the Newton system
/// (A + diag(p w^(−p−1))) Δ = −∇Φ is positive definite and steps are cut to keep at least 1% of every w_i
/// (positivity). While the Newton decrement exceeds 0.01, steps are backtracked until Φ decreases
/// sufficiently (Armijo), which guarantees progress from any start; closer to the solution, where Newton
/// converges quadratically but Φ can no longer resolve the progress of tasks with tiny gradients (their
/// terms are below Φ's rounding), full steps are taken when they reduce the scaled residual, computed with
/// compensated dot products, and backtracking falls back on either measure. The iteration stops two steps
/// after the componentwise backward error (<see cref="BackwardError"/>) reaches
/// <see cref="DefaultTolerance"/> = 1e-12, i.e. at the rounding floor, or when no step makes progress. The
/// backward error equals the relative residual max_i |w_i^p (Aw)_i − 1| whenever (Aw)_i involves no
/// cancellation. Newton is affine invariant, so gradients whose norms differ by 1e6 need no rescaling; only
/// the overall scale is normalised, using the homogeneity of the condition (G = sĜ gives w = s^(−1/(1+p)) ŵ).
/// </para>
/// <para>
/// Conditioning. For p &gt; 1 (FairGrad with α &lt; 1), a small gradient conflicting with a much larger one
/// needs (Gw)_i to be a tiny difference of large terms; there the weights are still accurate but the relative
/// residual of that task can only be shown to rounding × (terms / difference).
/// </para>
/// <para>
/// Existence. The condition says g_iᵀd = w_i^(−p) &gt; 0 for d = Σ_j w_j g_j: d improves every task. Without
/// the ridge a solution therefore exists exactly when 0 is outside the convex hull of the gradients (the point
/// is not Pareto stationary); identical or otherwise linearly dependent gradients are fine, but opposite
/// gradients, or any conic combination summing to 0, admit none (Φ then has no minimiser: it decreases without
/// bound, or towards an infimum, along that combination). Conversely, when 0 is outside the hull, Σ_i v_i g_i ≠ 0
/// for every direction v ≥ 0, so Φ grows along every ray and has a minimiser in the interior. The relative ridge
/// ρ·diag G (ρ = 1e-10 in the aggregators) gives every gradient a private orthogonal component of norm
/// √ρ‖g_i‖, which always makes A positive definite and the solution exist, is invariant to rescaling a task,
/// and moves the solution of a well-posed problem by a relative O(ρ). A task whose gradient is exactly zero
/// cannot gain from any step (g_iᵀd = 0); it is left out of the bargaining and gets weight 0.
/// </para>
/// <para>
/// Negative eigenvalues of G caused by rounding (e.g. a float32 Jacobian with T &gt; P) are clipped first
/// (see <see cref="PsdGramian.Prepare"/>); otherwise Φ could be unbounded along them.
/// </para>
/// <para>
/// Hand-written because T ≤ 100 makes a dense Newton method cheap and exact to rounding, and no kept .NET
/// package solves this small problem without a heavy native dependency (the official implementations call
/// cvxpy/ECOS or scipy).
/// </para>
/// </remarks>
internal static class BargainingSolver
{
    /// <summary>Default stopping tolerance on the componentwise backward error (see <see cref="BackwardError"/>).</summary>
    public const double DefaultTolerance = 1e-12;

    /// <summary>Newton iterations allowed (convergence to the rounding floor typically takes 5–30).</summary>
    public const int MaxIterations = 500;

    /// <summary>Solves (G + ρ·diag G) w = w^(−p) for the tasks with G[i, i] &gt; 0; w_i = 0 for the others.</summary>
    /// <param name="gramian">A Gramian that passed <see cref="CheckedGramian"/>.</param>
    /// <param name="exponent">p &gt; 0.</param>
    /// <param name="ridge">ρ ≥ 0; with ρ = 0 the exact condition, which has no solution at a Pareto-stationary point.</param>
    /// <param name="tolerance">The backward error at or below which the result reports convergence.</param>
    public static BargainingSolution Solve(double[,] gramian, double exponent, double ridge, double tolerance = DefaultTolerance)
    {
        ArgumentNullException.ThrowIfNull(gramian);
        if (!(exponent > 0.0) || !double.IsFinite(exponent))
        {
            throw new ArgumentOutOfRangeException(nameof(exponent), exponent, "The exponent p must be positive and finite.");
        }
        if (!(ridge >= 0.0) || !double.IsFinite(ridge))
        {
            throw new ArgumentOutOfRangeException(nameof(ridge), ridge, "The ridge must be non-negative and finite.");
        }
        if (!(tolerance > 0.0))
        {
            throw new ArgumentOutOfRangeException(nameof(tolerance), tolerance, "The tolerance must be positive.");
        }
        var taskCount = gramian.GetLength(0);
        var prepared = PsdGramian.Prepare(gramian, ridge);
        var weights = new double[taskCount];
        var m = prepared.Active.Length;
        if (m == 0)
        {
            return new BargainingSolution(weights, 0, 0.0, 0.0, true, false);
        }

        var a = prepared.Regularized;
        var u = InitialPoint(a, exponent);
        var iterations = 0;
        var error = BackwardError(a, u, exponent);
        var extraSteps = 0;
        while (iterations < MaxIterations)
        {
            iterations++;
            var (step, decrement) = NewtonDirection(a, u, exponent);
            // Far from the solution (large Newton decrement) damped steps on Φ guarantee progress. Close to it
            // the full step converges quadratically, but Φ can no longer resolve the progress of tasks with tiny
            // gradients (their terms are below its rounding), so steps are judged by the scaled residual there.
            var moved = decrement > 0.01
                ? DampedStepOnPotential(a, u, exponent, step, decrement) || StepOnResidual(a, u, exponent, step, fullOnly: false)
                : StepOnResidual(a, u, exponent, step, fullOnly: true)
                    || DampedStepOnPotential(a, u, exponent, step, decrement)
                    || StepOnResidual(a, u, exponent, step, fullOnly: false);
            if (!moved)
            {
                break;
            }
            error = BackwardError(a, u, exponent);
            // Quadratic convergence: two more steps after reaching the tolerance reach the rounding floor, which
            // is what ill-conditioned inputs need; more would only chase rounding noise.
            if (error <= tolerance && ++extraSteps > 2)
            {
                break;
            }
        }

        var unscale = Math.Pow(prepared.Scale, -1.0 / (1.0 + exponent));
        for (var k = 0; k < m; k++)
        {
            weights[prepared.Active[k]] = u[k] * unscale;
        }
        return new BargainingSolution(
            weights, iterations, RelativeResidual(a, u, exponent), error, error <= tolerance, prepared.Repaired);
    }

    /// <summary>max_i |u_i^p (A u)_i − 1|: the relative violation of A u = u^(−p), scale free per task.</summary>
    internal static double RelativeResidual(double[,] a, double[] u, double exponent) => Worst(Violations(a, u, exponent));

    /// <summary>
    /// max_i |u_i^p (A u)_i − 1| / (u_i^p Σ_j |A_ij| u_j): the componentwise backward error, i.e. the smallest ε
    /// such that u solves the condition exactly for some A + ΔA with |ΔA_ij| ≤ ε|A_ij|. It equals the relative
    /// residual when row i involves no cancellation, and stays meaningful when (A u)_i is a cancellation of much
    /// larger terms (conflicting gradients whose norms differ by orders of magnitude), where the residual is
    /// limited by the rounding of u itself.
    /// </summary>
    internal static double BackwardError(double[,] a, double[] u, double exponent) => Worst(ScaledViolations(a, u, exponent));

    /// <summary>The largest magnitude, with NaN counting as +∞.</summary>
    private static double Worst(IEnumerable<double> values)
    {
        var worst = 0.0;
        foreach (var value in values)
        {
            if (!(Math.Abs(value) <= worst))
            {
                worst = double.IsNaN(value) ? double.PositiveInfinity : Math.Abs(value);
            }
        }
        return worst;
    }

    /// <summary>(u_i^p (A u)_i − 1) / (u_i^p Σ_j |A_ij| u_j) for every task.</summary>
    private static double[] ScaledViolations(double[,] a, double[] u, double exponent)
    {
        var n = u.Length;
        var violations = Violations(a, u, exponent);
        for (var i = 0; i < n; i++)
        {
            var magnitude = 0.0;
            for (var j = 0; j < n; j++)
            {
                magnitude += Math.Abs(a[i, j]) * u[j];
            }
            violations[i] /= Power(u[i], exponent) * magnitude;
        }
        return violations;
    }

    /// <summary>u_i^p (A u)_i − 1 for every task, with the products accumulated in twice the working precision.</summary>
    private static double[] Violations(double[,] a, double[] u, double exponent)
    {
        var n = u.Length;
        var violations = new double[n];
        for (var i = 0; i < n; i++)
        {
            violations[i] = Power(u[i], exponent) * DenseLinearAlgebra.RowDot(a, i, u) - 1.0;
        }
        return violations;
    }

    private static double[] InitialPoint(double[,] a, double exponent)
    {
        // The solution for orthogonal gradients, u_i = A_ii^(−1/(1+p)), then the best multiple of it: along
        // t·u0, Φ is stationary where t^(1+p) = Σ u0_i^(1−p) / u0ᵀAu0.
        var n = a.GetLength(0);
        var u = new double[n];
        for (var i = 0; i < n; i++)
        {
            u[i] = Math.Pow(a[i, i], -1.0 / (1.0 + exponent));
        }
        var quadratic = DenseLinearAlgebra.Quadratic(a, u);
        var linear = 0.0;
        for (var i = 0; i < n; i++)
        {
            linear += Power(u[i], 1.0 - exponent);
        }
        if (quadratic > 0.0 && double.IsFinite(linear))
        {
            var t = Math.Pow(linear / quadratic, 1.0 / (1.0 + exponent));
            if (t > 0.0 && double.IsFinite(t))
            {
                for (var i = 0; i < n; i++)
                {
                    u[i] *= t;
                }
            }
        }
        return u;
    }

    /// <summary>
    /// The Newton step Δ = −(A + diag(p u^(−p−1)))⁻¹ (A u − u^(−p)) for Φ, and the Newton decrement
    /// λ² = −∇Φᵀ Δ (0 when the direction is not a descent direction).
    /// </summary>
    private static (double[] Step, double Decrement) NewtonDirection(double[,] a, double[] u, double exponent)
    {
        var n = u.Length;
        var negativeGradient = new double[n];
        var hessian = (double[,])a.Clone();
        for (var i = 0; i < n; i++)
        {
            var push = Power(u[i], -exponent);
            negativeGradient[i] = push - DenseLinearAlgebra.RowDot(a, i, u);
            hessian[i, i] += exponent * push / u[i];
        }
        var step = DenseLinearAlgebra.CholeskySolve(DenseLinearAlgebra.CholeskyWithShift(hessian), negativeGradient);
        var decrement = 0.0;
        for (var i = 0; i < n; i++)
        {
            decrement += negativeGradient[i] * step[i];
        }
        return (step, decrement > 0.0 ? decrement : 0.0);
    }

    /// <summary>The largest t ≤ 1 that keeps at least 1% of every u_i (positivity).</summary>
    private static double StepToBoundary(double[] u, double[] step)
    {
        var t = 1.0;
        for (var i = 0; i < u.Length; i++)
        {
            if (step[i] < 0.0)
            {
                t = Math.Min(t, 0.99 * u[i] / -step[i]);
            }
        }
        return t;
    }

    /// <summary>
    /// A damped step along <paramref name="step"/> with Armijo backtracking on Φ; false (and no move) when no
    /// step decreases Φ by more than Φ's own rounding, which happens once Φ cannot resolve the remaining progress.
    /// </summary>
    private static bool DampedStepOnPotential(double[,] a, double[] u, double exponent, double[] step, double decrement)
    {
        var n = u.Length;
        var t = StepToBoundary(u, step);
        var (value, magnitude) = Objective(a, u, exponent);
        var resolution = 1e-14 * magnitude;
        var trial = new double[n];
        for (var attempt = 0; attempt < 60 && 1e-4 * t * decrement > resolution; attempt++)
        {
            for (var i = 0; i < n; i++)
            {
                trial[i] = u[i] + t * step[i];
            }
            if (Objective(a, trial, exponent).Value <= value - 1e-4 * t * decrement)
            {
                Array.Copy(trial, u, n);
                return true;
            }
            t *= 0.5;
        }
        return false;
    }

    /// <summary>
    /// A Newton step backtracked until the sum of squared scaled violations Σ_i (e_i / m_i)² decreases, with
    /// e_i = u_i^p (Au)_i − 1 and m_i = u_i^p Σ_j |A_ij| u_j (Newton's direction is a descent direction for it
    /// near the solution); false when no step does. With <paramref name="fullOnly"/>, only the full step (cut
    /// for positivity) is tried.
    /// </summary>
    private static bool StepOnResidual(double[,] a, double[] u, double exponent, double[] step, bool fullOnly)
    {
        var n = u.Length;
        var merit = ScaledMerit(a, u, exponent);
        var t = StepToBoundary(u, step);
        var trial = new double[n];
        for (var attempt = 0; attempt < (fullOnly ? 1 : 40); attempt++)
        {
            for (var i = 0; i < n; i++)
            {
                trial[i] = u[i] + t * step[i];
            }
            if (ScaledMerit(a, trial, exponent) < merit)
            {
                Array.Copy(trial, u, n);
                return true;
            }
            t *= 0.5;
        }
        return false;
    }

    private static double ScaledMerit(double[,] a, double[] u, double exponent)
    {
        var sum = 0.0;
        foreach (var scaled in ScaledViolations(a, u, exponent))
        {
            sum += scaled * scaled;
        }
        return double.IsNaN(sum) ? double.PositiveInfinity : sum;
    }

    /// <summary>
    /// Φ(u) = ½uᵀAu − Σ h(u_i), +∞ outside the positive orthant or on overflow, and the sum of the magnitudes
    /// of its terms (the scale of its rounding error).
    /// </summary>
    private static (double Value, double Magnitude) Objective(double[,] a, double[] u, double exponent)
    {
        var barrier = 0.0;
        var magnitude = 0.0;
        foreach (var ui in u)
        {
            if (!(ui > 0.0))
            {
                return (double.PositiveInfinity, double.PositiveInfinity);
            }
            var term = exponent == 1.0 ? Math.Log(ui) : Power(ui, 1.0 - exponent) / (1.0 - exponent);
            barrier += term;
            magnitude += Math.Abs(term);
        }
        var quadratic = 0.5 * DenseLinearAlgebra.Quadratic(a, u);
        var value = quadratic - barrier;
        return double.IsNaN(value) ? (double.PositiveInfinity, double.PositiveInfinity) : (value, magnitude + Math.Abs(quadratic));
    }

    /// <summary>x^y for x &gt; 0 through exp/log, so that large exponents overflow to ∞ rather than throwing or NaN.</summary>
    private static double Power(double x, double y) => y == 1.0 ? x : y == -1.0 ? 1.0 / x : Math.Exp(y * Math.Log(x));
}

/// <summary>The result of <see cref="BargainingSolver.Solve"/>.</summary>
/// <param name="Weights">w, with w_i = 0 for tasks whose gradient is zero.</param>
/// <param name="Iterations">Newton steps taken.</param>
/// <param name="RelativeResidual">max_i |w_i^p ((G + ρ·diag G) w)_i − 1| over the non-zero tasks, at the returned point.</param>
/// <param name="BackwardError">
/// The componentwise backward error (see <see cref="BargainingSolver.BackwardError"/>): w solves the condition
/// exactly for a Gramian whose entries are perturbed by at most this relative amount.
/// </param>
/// <param name="Converged">Whether <paramref name="BackwardError"/> reached the tolerance.</param>
/// <param name="Repaired">Whether negative eigenvalues of G caused by rounding were clipped.</param>
internal sealed record BargainingSolution(
    double[] Weights, int Iterations, double RelativeResidual, double BackwardError, bool Converged, bool Repaired);

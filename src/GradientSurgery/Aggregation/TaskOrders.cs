namespace GradientSurgery.Aggregation;

/// <summary>
/// The random task orders of PCGrad's and GradVac's Algorithm 1: for every task i, the other tasks in the order
/// in which g_i' visits them. Shared so that both methods draw the same orders from the same seed.
/// </summary>
internal static class TaskOrders
{
    /// <summary>
    /// Draws, for every task i, an independent uniformly random order over the other tasks (a Fisher–Yates
    /// shuffle of 0..T−1 without i, from the last position down).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="taskCount"/> is not positive.</exception>
    public static IReadOnlyList<IReadOnlyList<int>> Draw(SplitMix64 random, int taskCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(taskCount);
        var orders = new int[taskCount][];
        for (var i = 0; i < taskCount; i++)
        {
            var order = Enumerable.Range(0, taskCount).Where(j => j != i).ToArray();
            for (var k = order.Length - 1; k > 0; k--)
            {
                var pick = random.NextInt(k + 1);
                (order[k], order[pick]) = (order[pick], order[k]);
            }
            orders[i] = order;
        }
        return orders;
    }

    /// <summary>Throws unless <paramref name="orders"/>[i] lists every task except i exactly once, for each of the <paramref name="taskCount"/> tasks.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="orders"/> is null.</exception>
    /// <exception cref="ArgumentException">An order is null or not a permutation of the other tasks' indices; the message names the task.</exception>
    public static void Validate(IReadOnlyList<IReadOnlyList<int>> orders, int taskCount)
    {
        ArgumentNullException.ThrowIfNull(orders);
        if (orders.Count != taskCount)
        {
            throw new ArgumentException($"Expected one order per task ({taskCount}), got {orders.Count}.", nameof(orders));
        }
        for (var i = 0; i < taskCount; i++)
        {
            var order = orders[i] ?? throw new ArgumentException($"The order of task {i} is null.", nameof(orders));
            var seen = new bool[taskCount];
            foreach (var j in order)
            {
                if (j < 0 || j >= taskCount)
                {
                    throw new ArgumentException($"The order of task {i} contains {j}, which is not a task index (0..{taskCount - 1}).", nameof(orders));
                }
                if (j == i)
                {
                    throw new ArgumentException($"The order of task {i} contains {i} itself; Algorithm 1 visits only the other tasks.", nameof(orders));
                }
                if (seen[j])
                {
                    throw new ArgumentException($"The order of task {i} visits task {j} twice.", nameof(orders));
                }
                seen[j] = true;
            }
            if (order.Count != taskCount - 1)
            {
                throw new ArgumentException(
                    $"The order of task {i} must list each of the other {taskCount - 1} tasks once, but it has {order.Count} entries.", nameof(orders));
            }
        }
    }
}

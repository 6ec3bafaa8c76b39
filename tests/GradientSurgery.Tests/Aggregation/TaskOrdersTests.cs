using GradientSurgery.Aggregation;

namespace GradientSurgery.Tests.Aggregation;

public sealed class TaskOrdersTests
{
    [Fact]
    public void DrawnOrdersAreValidAndEveryPositionTakesEveryOtherTask()
    {
        var random = new SplitMix64(5);
        for (var taskCount = 1; taskCount <= 6; taskCount++)
        {
            // Over 300 draws each of the T − 1 other tasks appears at position 0 of task 0's order (p ≥ 1/5 each).
            var first = new HashSet<int>();
            for (var draw = 0; draw < 300; draw++)
            {
                var orders = TaskOrders.Draw(random, taskCount);
                TaskOrders.Validate(orders, taskCount);
                if (taskCount > 1)
                {
                    first.Add(orders[0][0]);
                }
            }
            Assert.Equal(Enumerable.Range(1, taskCount - 1), first.Order());
        }
    }

    [Fact]
    public void TheSameGeneratorStateGivesTheSameOrders()
    {
        var a = TaskOrders.Draw(new SplitMix64(42), 7);
        var b = TaskOrders.Draw(new SplitMix64(42), 7);
        Assert.Equal(a.Select(o => o.ToArray()), b.Select(o => o.ToArray()));
    }

    [Fact]
    public void ValidateNamesTheTaskWhoseOrderIsWrong()
    {
        string Fail(int[][] orders) => Assert.Throws<ArgumentException>(() => TaskOrders.Validate(orders, 3)).Message;

        Assert.Contains("one order per task (3), got 2", Fail([[1, 2], [0, 2]]));
        Assert.Contains("task 1 contains 1 itself", Fail([[1, 2], [1, 2], [0, 1]]));
        Assert.Contains("task 2 contains 3", Fail([[1, 2], [0, 2], [0, 3]]));
        Assert.Contains("task 0 visits task 1 twice", Fail([[1, 1], [0, 2], [0, 1]]));
        Assert.Contains("task 0 must list each of the other 2 tasks once, but it has 1", Fail([[1], [0, 2], [0, 1]]));
        Assert.Throws<ArgumentNullException>(() => TaskOrders.Validate(null!, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => TaskOrders.Draw(new SplitMix64(0), 0));
    }
}

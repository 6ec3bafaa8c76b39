using GradientSurgery;
using GradientSurgery.Aggregation;
using TorchSharp;
using static TorchSharp.torch;

manual_seed(0);
var trunk = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 16));
var heads = new[] { nn.Linear(16, 1), nn.Linear(16, 1) };
var headParameters = heads.SelectMany(h => h.parameters()).ToArray();
var x = randn(256, 8);
var w = randn(8, 1);
Tensor[] targets = [x.mm(w), -x.mm(w) + 0.5 * x.mm(randn(8, 1))];   // two tasks that pull apart

var optimizer = optim.Adam(trunk.parameters().Concat(headParameters), lr: 1e-2);
var pcgrad = new PCGrad(seed: 0);

for (var step = 1; step <= 300; step++)
{
    using var scope = NewDisposeScope();
    var features = trunk.forward(x);
    var losses = heads.Select((head, t) => nn.functional.mse_loss(head.forward(features), targets[t])).ToArray();
    optimizer.zero_grad();
    var report = MultiTask.Backward(losses, pcgrad, trunk.parameters(), headParameters, features);
    optimizer.step();
    if (step == 1 || step % 50 == 0)
    {
        Console.WriteLine($"step {step}: losses {report.Losses[0]:F4} {report.Losses[1]:F4}, cos(g1,g2) {report.Conflicts!.Cosine[0, 1]:F3}, weights {string.Join(" ", report.Weights!.Select(v => v.ToString("F3")))}");
    }
}

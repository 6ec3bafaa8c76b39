// PCGrad on a two-head model through the GradientSurgery package: both losses must fall (exit code 1 otherwise).
using GradientSurgery.Aggregation;
using GradientSurgery.Training;
using TorchSharp;
using static TorchSharp.torch;

manual_seed(0);
var trunk = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 16));
var heads = new[] { nn.Linear(16, 1), nn.Linear(16, 1) };
var x = randn(256, 8);
var w = randn(8, 1);
Tensor[] targets = [x.mm(w), -x.mm(w) + 0.5 * x.mm(randn(8, 1))];

var parameters = trunk.parameters().Concat(heads.SelectMany(h => h.parameters()));
using var optimizer = new AggregationStep(optim.Adam(parameters, lr: 1e-2), new PCGrad(seed: 0), trunk.parameters());
double[]? first = null, last = null;
for (var step = 1; step <= 200; step++)
{
    using var scope = NewDisposeScope();
    var features = trunk.forward(x);
    var losses = heads.Select((head, t) => nn.functional.mse_loss(head.forward(features), targets[t])).ToArray();
    var report = optimizer.Step(losses, features);
    first ??= report.Losses;
    last = report.Losses;
}
Console.WriteLine($"GradientSurgery {typeof(PCGrad).Assembly.GetName().Version} from the package: losses {first![0]:F4} {first[1]:F4} -> {last![0]:F4} {last[1]:F4}");
var fell = last.Zip(first, (after, before) => after < 0.1 * before).All(f => f);
Console.WriteLine(fell ? "both losses fell" : "a loss did not fall");
return fell ? 0 : 1;

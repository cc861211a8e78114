// TorchSharp 0.107 lets the garbage collector free a temporary Scalar while native code still reads it, whenever another
// thread's allocation starts a collection during the call (docs/reliability.md, "Other threads that allocate");
// TorchSharp's own optimizers are exposed. Tests that train with them must therefore not share the process with other
// running tests: they run one at a time.
[assembly: Xunit.v3.Parallelization(Mode = Xunit.Sdk.ParallelMode.None)]

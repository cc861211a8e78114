using SpectralMonitor.Examples.InstabilityDemo;
using Spectre.Console;

// A live view when stdout is an interactive terminal; plain lines otherwise (pipes, files, CI).
bool live = !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
return DemoApp.Run(args, Console.Out, Console.Error, live ? AnsiConsole.Console : null);

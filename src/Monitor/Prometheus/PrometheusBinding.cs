using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace SpectralMonitor.Prometheus;

/// <summary>
/// Where an <see cref="System.Net.HttpListener"/> prefix for a configured host really listens. On Linux and macOS
/// the listener is .NET's managed implementation: <c>*</c> and <c>+</c> bind 0.0.0.0 (every IPv4 interface), an
/// address binds that address, and a host name binds the first address DNS gives for it. On Windows it is HTTP.sys,
/// which routes by the request's Host header.
/// </summary>
/// <param name="Host">The configured host.</param>
/// <param name="PrefixHost">The host written into the listener prefix.</param>
/// <param name="BoundAddress">The address the socket binds (<see cref="IPAddress.Any"/> for every interface).</param>
/// <param name="AddressHost">The host of <see cref="PrometheusEndpoint.Address"/>: the literal bound address, or the configured name when requests must carry it in their Host header.</param>
/// <param name="IsLoopback">Whether only this machine can connect.</param>
internal sealed record PrometheusBinding(string Host, string PrefixHost, IPAddress BoundAddress, string AddressHost, bool IsLoopback)
{
    /// <summary>Native error codes of "address already in use": Linux 98, macOS 48, Winsock 10048, HTTP.sys 183 (prefix already registered) and 32 (port shared).</summary>
    private static readonly int[] AddressInUseCodes = [98, 48, 10048, 183, 32];

    /// <summary>Where the listener binds, in words, e.g. <c>127.0.0.1:9464</c> or <c>0.0.0.0:9464 (every IPv4 interface)</c>.</summary>
    public string DescribeBound(int port)
    {
        var endpoint = new IPEndPoint(this.BoundAddress, port).ToString();
        return this.BoundAddress.Equals(IPAddress.Any)
            ? OperatingSystem.IsWindows() ? $"every interface, port {port.ToString(CultureInfo.InvariantCulture)}" : $"{endpoint} (every IPv4 interface)"
            : this.BoundAddress.Equals(IPAddress.IPv6Any) ? $"{endpoint} (every interface)" : endpoint;
    }

    /// <summary>The URL a scraper uses, e.g. <c>http://127.0.0.1:9464/metrics</c>.</summary>
    public Uri Address(int port, string path) => new($"http://{this.AddressHost}:{port.ToString(CultureInfo.InvariantCulture)}{path}");

    /// <summary>The listener prefix: the path with a trailing slash, as HttpListener requires.</summary>
    public string Prefix(int port, string path) => $"http://{this.PrefixHost}:{port.ToString(CultureInfo.InvariantCulture)}{path.TrimEnd('/')}/";

    /// <summary>Works out where <paramref name="host"/> binds.</summary>
    /// <exception cref="SocketException">A host name does not resolve.</exception>
    public static PrometheusBinding Resolve(string host)
    {
        if (host is "*" or "+" or "0.0.0.0")
        {
            // The managed listener rejects 0.0.0.0 ("The request is not supported"); '+' binds the same sockets.
            return new PrometheusBinding(host, "+", IPAddress.Any, "0.0.0.0", IsLoopback: false);
        }

        if (IPAddress.TryParse(host.Trim('[', ']'), out var literal))
        {
            var any = literal.Equals(IPAddress.IPv6Any);
            return new PrometheusBinding(host, host, literal, host, !any && IPAddress.IsLoopback(literal));
        }

        if (OperatingSystem.IsWindows())
        {
            // HTTP.sys routes by Host header; only localhost is guaranteed to be reachable from this machine alone.
            var local = host.Equals("localhost", StringComparison.OrdinalIgnoreCase);
            return new PrometheusBinding(host, host, local ? IPAddress.Loopback : IPAddress.Any, host, local);
        }

        // What the managed listener does: bind the first address DNS returns.
        var resolved = Dns.GetHostAddresses(host)[0];
        return new PrometheusBinding(host, host, resolved, host, IPAddress.IsLoopback(resolved));
    }

    /// <summary>A port that is free on <see cref="BoundAddress"/> now (another process may take it before the listener binds it).</summary>
    public int FindFreePort()
    {
        var probe = new TcpListener(this.BoundAddress, 0);
        probe.Start();
        try
        {
            return ((IPEndPoint)probe.LocalEndpoint).Port;
        }
        finally
        {
            probe.Stop();
        }
    }

    /// <summary>Whether <paramref name="failure"/> says the port is taken.</summary>
    public static bool IsAddressInUse(Exception? failure) => failure switch
    {
        HttpListenerException listener => AddressInUseCodes.Contains(listener.ErrorCode),
        SocketException socket => socket.SocketErrorCode == SocketError.AddressAlreadyInUse,
        _ => false,
    };

    /// <summary>The real reason listening failed, in one sentence, for logs and <see cref="PrometheusEndpoint.StartupError"/>.</summary>
    public string Explain(Exception failure, int port)
    {
        var bound = this.DescribeBound(port);
        if (IsAddressInUse(failure))
        {
            return $"{bound} is already in use (another process, or another listener in this process, holds port {port.ToString(CultureInfo.InvariantCulture)})";
        }

        if (this.Host.StartsWith('[') && !OperatingSystem.IsWindows() && failure is HttpListenerException { ErrorCode: 400 })
        {
            return $"System.Net.HttpListener on Linux and macOS does not accept IPv6 address literals such as {this.Host} in its prefixes "
                + $"(it reports '{failure.Message}'); listen on 127.0.0.1 or on a host name that resolves to the IPv6 address, "
                + "or serve /metrics from ASP.NET Core (Kestrel), which listens on IPv6 addresses";
        }

        if (failure is HttpListenerException { ErrorCode: 99 or 49 or 10049 })
        {
            return $"{this.BoundAddress} is not an address of this machine ({failure.Message})";
        }

        return failure.Message;
    }
}

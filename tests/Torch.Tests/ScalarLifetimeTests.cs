using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace SpectralMonitor.Torch.Tests;

/// <summary>
/// TorchSharp 0.107 hands an implicitly converted <c>Scalar</c> (<c>x.mul_(0.5)</c>) to native code without keeping the
/// managed object alive. When a garbage collection started by another thread runs during the native call, the
/// Scalar's finalizer frees the native value that the call is still reading: the call then fails with "Expected false
/// to be true ... toFloat" or silently uses another number (benchmarks/Torch scalar-lifetime reproduces it; RESULTS.md
/// "scalar-lifetime"; docs/reliability.md, "Other threads that allocate"). The adapter runs on the user's training
/// thread inside processes that may serve HTTP or train other models, so it must never convert implicitly: every
/// Scalar it makes is created and disposed by a <c>using</c> that outlives the call.
/// </summary>
public class ScalarLifetimeTests
{
    [Fact]
    public void The_adapter_calls_nothing_that_converts_a_number_to_a_Scalar_implicitly()
    {
        // What converts: Scalar's implicit operators themselves, and every TorchSharp method whose own IL calls one (x / 2.0,
        // x.square() = pow(2), x.add(y) = add(y, alpha: 1), ...). Found by reading TorchSharp's IL, so a new TorchSharp
        // version is checked as it is.
        var converting = ConvertingTorchSharpMethods();
        Assert.Contains("Tensor.op_Division(Tensor,Double)", converting); // the reproduction's x / 3.0: the scan sees it
        Assert.Contains("Tensor.square()", converting);

        using var stream = File.OpenRead(typeof(TensorVectorSpace).Assembly.Location);
        using var pe = new PEReader(stream);
        var metadata = pe.GetMetadataReader();
        var forbidden = new Dictionary<EntityHandle, string>();
        foreach (var handle in metadata.MemberReferences)
        {
            var member = metadata.GetMemberReference(handle);
            if (member.Parent.Kind == HandleKind.TypeReference && member.GetKind() == MemberReferenceKind.Method)
            {
                string type = metadata.GetString(metadata.GetTypeReference((TypeReferenceHandle)member.Parent).Name);
                string key = Key(type, metadata.GetString(member.Name), member.DecodeMethodSignature(new TypeNames(), null));
                if (converting.Contains(key))
                {
                    forbidden[handle] = key;
                }
            }
        }

        // Name the adapter's methods that call them, so that a failure says where to look.
        var offenders = new List<string>();
        foreach (var typeHandle in metadata.TypeDefinitions)
        {
            var type = metadata.GetTypeDefinition(typeHandle);
            foreach (var methodHandle in type.GetMethods())
            {
                var method = metadata.GetMethodDefinition(methodHandle);
                if (method.RelativeVirtualAddress != 0)
                {
                    var il = pe.GetMethodBody(method.RelativeVirtualAddress).GetILReader();
                    offenders.AddRange(Calls(il).Where(forbidden.ContainsKey).Select(h => $"{metadata.GetString(type.Name)}.{metadata.GetString(method.Name)} → {forbidden[h]}"));
                }
            }
        }

        Assert.True(forbidden.Count == 0, $"calls that convert a number to a Scalar implicitly: {string.Join("; ", offenders.Distinct())}");
    }

    /// <summary>
    /// "Type.name(parameters)" of Scalar's implicit operators and of every method in TorchSharp.dll whose IL calls one,
    /// directly or through other TorchSharp methods (static targets; an override reached by a virtual call is not followed).
    /// </summary>
    private static HashSet<string> ConvertingTorchSharpMethods()
    {
        using var stream = File.OpenRead(typeof(TorchSharp.Scalar).Assembly.Location);
        using var pe = new PEReader(stream);
        var metadata = pe.GetMetadataReader();
        var conversions = new HashSet<EntityHandle>();
        var result = new HashSet<string>(StringComparer.Ordinal);
        foreach (var typeHandle in metadata.TypeDefinitions)
        {
            var type = metadata.GetTypeDefinition(typeHandle);
            if (metadata.GetString(type.Name) == "Scalar" && metadata.GetString(type.Namespace) == "TorchSharp")
            {
                foreach (var methodHandle in type.GetMethods())
                {
                    var method = metadata.GetMethodDefinition(methodHandle);
                    if (metadata.GetString(method.Name) == "op_Implicit")
                    {
                        conversions.Add(methodHandle);
                        result.Add(Key("Scalar", "op_Implicit", method.DecodeSignature(new TypeNames(), null)));
                    }
                }
            }
        }

        Assert.NotEmpty(conversions);
        var callees = new Dictionary<MethodDefinitionHandle, (string Key, HashSet<EntityHandle> Calls)>();
        foreach (var typeHandle in metadata.TypeDefinitions)
        {
            var type = metadata.GetTypeDefinition(typeHandle);
            foreach (var methodHandle in type.GetMethods())
            {
                var method = metadata.GetMethodDefinition(methodHandle);
                if (method.RelativeVirtualAddress != 0)
                {
                    var calls = Calls(pe.GetMethodBody(method.RelativeVirtualAddress).GetILReader()).Where(h => h.Kind == HandleKind.MethodDefinition).ToHashSet();
                    callees[methodHandle] = (Key(metadata.GetString(type.Name), metadata.GetString(method.Name), method.DecodeSignature(new TypeNames(), null)), calls);
                }
            }
        }

        // Fixed point: a method converts if it calls a method that converts.
        bool grew = true;
        while (grew)
        {
            grew = false;
            foreach (var (handle, (_, calls)) in callees)
            {
                if (!conversions.Contains(handle) && calls.Overlaps(conversions))
                {
                    conversions.Add(handle);
                    grew = true;
                }
            }
        }

        foreach (var (handle, (key, _)) in callees)
        {
            if (conversions.Contains(handle))
            {
                result.Add(key);
            }
        }

        return result;
    }

    private static string Key(string type, string name, MethodSignature<string> signature) => $"{type}.{name}({string.Join(",", signature.ParameterTypes)})";

    /// <summary>Just enough of a signature decoder to tell number parameters (primitive names) from the rest.</summary>
    private sealed class TypeNames : ISignatureTypeProvider<string, object?>
    {
        public string GetPrimitiveType(PrimitiveTypeCode typeCode) => typeCode.ToString();

        public string GetTypeFromDefinition(MetadataReader reader, TypeDefinitionHandle handle, byte rawTypeKind) => reader.GetString(reader.GetTypeDefinition(handle).Name);

        public string GetTypeFromReference(MetadataReader reader, TypeReferenceHandle handle, byte rawTypeKind) => reader.GetString(reader.GetTypeReference(handle).Name);

        public string GetTypeFromSpecification(MetadataReader reader, object? genericContext, TypeSpecificationHandle handle, byte rawTypeKind) => "spec";

        public string GetSZArrayType(string elementType) => elementType + "[]";

        public string GetArrayType(string elementType, ArrayShape shape) => elementType + "[,]";

        public string GetByReferenceType(string elementType) => elementType + "&";

        public string GetPointerType(string elementType) => elementType + "*";

        public string GetPinnedType(string elementType) => elementType;

        public string GetGenericInstantiation(string genericType, System.Collections.Immutable.ImmutableArray<string> typeArguments) => genericType;

        public string GetGenericMethodParameter(object? genericContext, int index) => "!!" + index;

        public string GetGenericTypeParameter(object? genericContext, int index) => "!" + index;

        public string GetFunctionPointerType(MethodSignature<string> signature) => "fnptr";

        public string GetModifiedType(string modifier, string unmodifiedType, bool isRequired) => unmodifiedType;
    }

    /// <summary>The targets of the call and callvirt instructions in <paramref name="il"/>.</summary>
    private static List<EntityHandle> Calls(BlobReader il)
    {
        var found = new List<EntityHandle>();
        while (il.RemainingBytes > 0)
        {
            byte op = il.ReadByte();
            if (op == 0xFE)
            {
                byte second = il.ReadByte();
                il.Offset += second switch
                {
                    0x09 or 0x0A or 0x0B or 0x0C or 0x0D or 0x0E => 2, // ldarg, ldarga, starg, ldloc, ldloca, stloc
                    0x12 or 0x19 => 1, // unaligned., no.
                    0x06 or 0x07 or 0x15 or 0x16 or 0x1C => 4, // ldftn, ldvirtftn, initobj, constrained., sizeof (token)
                    _ => 0,
                };
                continue;
            }

            if (op is 0x28 or 0x6F)
            {
                // call, callvirt: a conversion is a static call, but a converting instance method is called with callvirt.
                found.Add(MetadataTokens.EntityHandle(il.ReadInt32()));
                continue;
            }

            il.Offset += OperandSize(op, ref il);
        }

        return found;
    }

    private static int OperandSize(byte op, ref BlobReader il) => op switch
    {
        0x0E or 0x0F or 0x10 or 0x11 or 0x12 or 0x13 or 0x1F or 0xDE => 1, // short arg/loc forms, ldc.i4.s, leave.s
        >= 0x2B and <= 0x37 => 1, // short branches
        0x20 or 0x22 => 4, // ldc.i4, ldc.r4
        0x21 or 0x23 => 8, // ldc.i8, ldc.r8
        >= 0x38 and <= 0x44 => 4, // long branches
        0xDD => 4, // leave
        0x45 => SwitchOperand(ref il),
        0x27 or 0x29 or 0x6F or 0x70 or 0x71 or 0x72 or 0x73 or 0x74 or 0x75 or 0x79 or 0x7B or 0x7C or 0x7D or 0x7E or 0x7F
            or 0x80 or 0x81 or 0x8C or 0x8D or 0x8F or 0xA3 or 0xA4 or 0xA5 or 0xC2 or 0xC6 or 0xD0 => 4, // tokens
        _ => 0,
    };

    private static int SwitchOperand(ref BlobReader il)
    {
        int count = il.ReadInt32();
        return 4 * count;
    }
}

using System.Collections;
using System.Globalization;
using System.Management.Automation;

namespace Wuerstchen.PowerShell;

/// <summary>
/// Lets a timestep list come from a CSV cell or the command line as text ("1, 0.5, 0" or "1 0.5 0"),
/// as well as an array of numbers.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class FloatListTransformationAttribute : ArgumentTransformationAttribute
{
    public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData)
    {
        var value = inputData is PSObject pso ? pso.BaseObject : inputData;
        if (value is string text)
        {
            if (string.IsNullOrWhiteSpace(text))
            {
                return null; // an empty CSV cell: not given
            }

            var parts = text.Split(new[] { ',', ' ', ';', '\t' }, StringSplitOptions.RemoveEmptyEntries);
            var result = new float[parts.Length];
            for (int i = 0; i < parts.Length; i++)
            {
                if (!float.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out result[i]))
                {
                    throw new ArgumentTransformationMetadataException($"'{parts[i]}' in '{text}' is not a number; give timesteps as numbers descending from 1 to 0, e.g. '1, 0.5, 0'.");
                }
            }

            return result;
        }

        if (value is IEnumerable list and not string)
        {
            var items = new List<object?>();
            foreach (var item in list)
            {
                items.Add(item is PSObject p ? p.BaseObject : item);
            }

            if (items.Count == 1 && items[0] is string single)
            {
                return Transform(engineIntrinsics, single);
            }

            return items.ToArray();
        }

        return inputData;
    }
}

/// <summary>
/// An empty CSV cell (or whitespace) means "not given": it binds as null, so the parameter keeps its
/// default instead of PowerShell's conversion of "" to 0. With a target type, any other value is converted
/// here, so a value that does not convert (a CSV cell 'abc' for -Seed) is an error naming it: PowerShell
/// silently drops pipeline-by-property-name values it cannot convert, which would run the row with the
/// default (a random seed, 1024 pixels …) instead.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class EmptyAsNullAttribute : ArgumentTransformationAttribute
{
    public EmptyAsNullAttribute()
    {
    }

    public EmptyAsNullAttribute(Type targetType) => TargetType = targetType;

    /// <summary>The type non-empty values are converted to (the parameter's type without Nullable).</summary>
    public Type? TargetType { get; }

    public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData)
    {
        var value = inputData is PSObject pso ? pso.BaseObject : inputData;
        if (value is string s && string.IsNullOrWhiteSpace(s))
        {
            return null;
        }

        if (TargetType is null || value is null || TargetType.IsInstanceOfType(value))
        {
            return inputData;
        }

        try
        {
            return LanguagePrimitives.ConvertTo(value, TargetType, CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is PSInvalidCastException or InvalidCastException or FormatException or OverflowException or ArgumentException)
        {
            string expected = TargetType == typeof(int) ? $"a whole number from {int.MinValue} to {int.MaxValue}"
                : TargetType == typeof(long) ? $"a whole number from {long.MinValue} to {long.MaxValue}"
                : TargetType == typeof(float) || TargetType == typeof(double) ? "a number" : $"a {TargetType.Name}";
            throw new ArgumentTransformationMetadataException($"'{value}' is not {expected}.", ex);
        }
    }
}

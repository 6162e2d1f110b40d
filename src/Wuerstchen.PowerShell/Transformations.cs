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
/// default instead of PowerShell's conversion of "" to 0.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class EmptyAsNullAttribute : ArgumentTransformationAttribute
{
    public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData)
    {
        var value = inputData is PSObject pso ? pso.BaseObject : inputData;
        return value is string s && string.IsNullOrWhiteSpace(s) ? null : inputData;
    }
}

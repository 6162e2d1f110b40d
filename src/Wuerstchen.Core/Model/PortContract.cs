namespace Wuerstchen.Core;

/// <summary>
/// The port check of one network against its contract (docs/spec/model-contract.json): input and output names,
/// ranks, element types and fixed sizes. Test-WuerstchenModel reports every problem; a run throws the first.
/// </summary>
internal static class PortContract
{
    /// <summary>
    /// Before a session's first run for this contract: the network must meet it (names, ranks, element types, fixed
    /// sizes). Throws the first problem, naming the file, the expected and the found value — the same check
    /// Test-WuerstchenModel makes. Runs once per session and contract (<see cref="SessionLease.EnsureChecked"/>).
    /// </summary>
    internal static void Enforce(OnnxSession session, NetworkSpec network, ModelConfig config)
    {
        var result = new ModelCheckResult { Stage = ModelValidator.Display(network.Folder), Path = session.Path };
        Check(session, network, config, result);
        if (result.Problems.Count > 0)
        {
            var p = result.Problems[0];
            throw new WuerstchenException(p.ErrorId, WuerstchenErrorKind.InvalidData, p.Message, session.Path);
        }
    }

    /// <summary>Adds one problem per port that breaks the contract (one max_length problem per network); one pass over the port table.</summary>
    internal static void Check(OnnxSession session, NetworkSpec network, ModelConfig config, ModelCheckResult result)
    {
        bool lengthReported = false; // one max_length problem per network, not one per port that has the axis
        foreach (var port in network.Ports)
        {
            bool input = network.Inputs.Contains(port);
            var map = input ? session.Inputs : session.Outputs;
            string role = input ? "input" : "output";
            var name = network.Folder;
            if (!map.TryGetValue(port.Name, out var meta))
            {
                if (!port.Optional)
                {
                    result.Fail("ModelContractMismatch", $"The {name} network '{session.Path}' has no {role} '{port.Name}'; its {role}s are {string.Join(", ", map.Keys)}.",
                        $"{role} '{port.Name}'", string.Join(", ", map.Keys));
                }

                continue;
            }

            if (meta.Dimensions.Length != port.Rank)
            {
                result.Fail("ModelContractMismatch", $"The {name} network '{session.Path}' {role} '{port.Name}' has rank {meta.Dimensions.Length}; expected rank {port.Rank}.",
                    $"rank {port.Rank}", $"rank {meta.Dimensions.Length}");
                continue;
            }

            var types = port.IsInteger ? OnnxSession.IdTypes : OnnxSession.FloatTypes;
            if (!types.Contains(meta.ElementDataType))
            {
                result.Fail("ModelContractMismatch", $"The {name} network '{session.Path}' {role} '{port.Name}' has element type {meta.ElementDataType}; expected {string.Join(" or ", types)}.",
                    string.Join(" or ", types), meta.ElementDataType.ToString());
                continue;
            }

            for (int axis = 1; axis < port.Rank; axis++)
            {
                if (port.FixedSize(axis, config) is not { } size || meta.Dimensions[axis] <= 0 || meta.Dimensions[axis] == size)
                {
                    continue;
                }

                if (port.Shape[axis] is "$max_length")
                {
                    if (lengthReported)
                    {
                        continue;
                    }

                    lengthReported = true;
                    // the tokenizer pads to model_index.json's max_length; a network fixed to another length fails on every run
                    result.Fail("MaxLengthMismatch",
                        $"model_index.json sets max_length {config.MaxLength}, but the {name} network '{session.Path}' reads {port.Name} of fixed length {meta.Dimensions[axis]}. Set \"max_length\": {meta.Dimensions[axis]} in model_index.json or re-export the model.",
                        meta.Dimensions[axis].ToString(), config.MaxLength.ToString());
                }
                else
                {
                    result.Fail("ModelContractMismatch", $"The {name} network '{session.Path}' {role} '{port.Name}' has size {meta.Dimensions[axis]} on axis {axis}; expected {size}.",
                        size.ToString(), meta.Dimensions[axis].ToString());
                }
            }
        }
    }
}

using Wuerstchen.Core.Noise;

namespace Wuerstchen.Core;

/// <summary>Where the noise of an embedding's batch continues: the generator after the prior, and this row's place in the batch.</summary>
public sealed record NoiseStream(Guid BatchId, GeneratorState State, int Row, int Rows);

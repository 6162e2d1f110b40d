namespace Wuerstchen.Core.IO;

/// <summary>
/// One writer of a file pair at a time, across threads and processes: a named mutex per target path (the operating
/// system's, so a killed writer's lock is released with it; .NET reports that as abandoned, and the next writer goes
/// on). Without it two -Force exports to one name can each publish one half, pairing one's data with the other's rows.
/// </summary>
internal sealed class PairLock : IDisposable
{
    /// <summary>How long a writer waits for another's write of the same pair (a write takes well under a second).</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private readonly Mutex _mutex;

    private PairLock(Mutex mutex) => _mutex = mutex;

    public static PairLock Acquire(string fullPath)
    {
        // a short name of the path (mutex names are bounded; the path's text is not)
        var hash = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(fullPath)))[..32];
        var mutex = new Mutex(false, "wuerstchen-pair-" + hash);
        try
        {
            if (!mutex.WaitOne(Patience))
            {
                throw new WuerstchenException("OutputWriteFailed", WuerstchenErrorKind.WriteError,
                    $"Another export has been writing '{fullPath}' for {Patience.TotalSeconds:0} s; wait for it to finish, or write to another name.", fullPath);
            }
        }
        catch (AbandonedMutexException)
        {
            // its last holder was killed mid-write: the mutex is ours now, and the write below replaces what it left
        }
        catch
        {
            mutex.Dispose();
            throw;
        }

        return new PairLock(mutex);
    }

    public void Dispose()
    {
        _mutex.ReleaseMutex();
        _mutex.Dispose();
    }
}

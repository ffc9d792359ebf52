using System.Diagnostics;

namespace Smec.Core.Runtime;

/// <summary>Whether a process of this host still runs: what tells a stale lock or an abandoned staging folder from a live one.</summary>
public static class ProcessLiveness
{
    public static bool IsAlive(int pid)
    {
        if (Directory.Exists("/proc/self"))
        {
            try
            {
                var text = File.ReadAllText($"/proc/{pid}/stat");
                // "pid (command) S ...": the state follows the last ')' (the command may hold one); a zombie has exited.
                var state = text[text.LastIndexOf(')') + 2];
                return state != 'Z' && state != 'X';
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentOutOfRangeException) { return false; }
        }
        try { return !Process.GetProcessById(pid).HasExited; }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException) { return false; }
    }
}

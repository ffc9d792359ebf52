namespace Smec.Core.Data;

/// <summary>A dataset could not be found or fetched; the message says where we looked and how to get it.</summary>
public sealed class DataUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A data file exists but is not what its manifest promises (checksum, format or counts).</summary>
public sealed class DataVerificationException(string message, Exception? inner = null) : Exception(message, inner);

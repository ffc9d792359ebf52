using Smec.Core.Data.Images;
using Smec.Core.Data.Manifests;
using Smec.Core.Data.Text;

namespace Smec.Core.Data;

/// <summary>
/// Compares a loaded dataset with every count its manifest gives and reports all mismatches at
/// once, naming the folder, the manifest file and each counts field.
/// </summary>
internal sealed class CountCheck(DatasetManifest manifest, string folder)
{
    private readonly List<string> _problems = [];

    private void Expect(string field, int? expected, int actual)
    {
        if (expected != null && expected != actual) _problems.Add($"counts.{field}: expected {expected}, found {actual}");
    }

    private void Throw()
    {
        if (_problems.Count > 0)
            throw new DataVerificationException(
                $"{folder}: dataset '{manifest.Id}' does not match {manifest.ManifestFile}: {string.Join("; ", _problems)}");
    }

    public static void Text(DatasetManifest manifest, string folder, TextRetrievalDataset dataset)
    {
        var check = new CountCheck(manifest, folder);
        var c = manifest.Counts;
        if (c != null)
        {
            check.Expect("docs", c.Docs, dataset.Corpus.Count);
            check.Expect("queries", c.Queries, dataset.Queries.Count);
            check.Expect("judged_queries", c.JudgedQueries,
                dataset.QrelsBySplit.Values.SelectMany(q => q.QueryIds).Distinct().Count());
            foreach (var (split, expected) in c.Splits)
            {
                if (!dataset.QrelsBySplit.TryGetValue(split, out var qrels)) { check._problems.Add($"counts.splits.{split}: no such split loaded"); continue; }
                check.Expect($"splits.{split}.queries", expected.Queries, qrels.QueryCount);
                check.Expect($"splits.{split}.qrels", expected.Qrels, dataset.QrelsRowsBySplit[split]);
            }
            if (c.RelevanceLevels != null)
            {
                var levels = dataset.QrelsBySplit.Values
                    .SelectMany(q => q.QueryIds.SelectMany(id => q.ForQuery(id).Values)).Distinct().Order().ToList();
                var expected = c.RelevanceLevels.Distinct().Order().ToList();
                if (!levels.SequenceEqual(expected))
                    check._problems.Add($"counts.relevance_levels: expected [{string.Join(", ", expected)}], found [{string.Join(", ", levels)}]");
            }
        }
        check.Throw();
    }

    public static void ImageClasses(DatasetManifest manifest, string folder, ImageClassDataset dataset)
    {
        var check = new CountCheck(manifest, folder);
        var c = manifest.Counts;
        if (c != null)
        {
            check.Expect("classes", c.Classes, dataset.ClassNames.Count);
            foreach (var (split, expected) in c.Splits)
                check.Expect($"splits.{split}.images", expected.Images, dataset.Splits.TryGetValue(split, out var items) ? items.Count : 0);
            foreach (var (split, perClass) in c.ImagesPerClass ?? [])
            {
                var items = dataset.Splits.TryGetValue(split, out var list) ? list : [];
                for (var label = 0; label < dataset.ClassNames.Count; label++)
                    check.Expect($"images_per_class.{split} ({dataset.ClassNames[label]})", perClass, items.Count(i => i.Label == label));
            }
            var unexpected = dataset.Splits.Keys.Where(s => !c.Splits.ContainsKey(s)).ToList();
            if (c.Splits.Count > 0 && unexpected.Count > 0)
                check._problems.Add($"counts.splits: found undeclared split(s) {string.Join(", ", unexpected)}");
        }
        check.Throw();
    }

    public static void Captioned(DatasetManifest manifest, string folder, CaptionedImageDataset dataset)
    {
        var check = new CountCheck(manifest, folder);
        var c = manifest.Counts;
        if (c != null)
        {
            check.Expect("images", c.Images, dataset.ImageIds.Count);
            check.Expect("captions", c.Captions, dataset.Captions.Count);
            if (c.CaptionsPerImage != null)
                foreach (var group in dataset.Captions.GroupBy(x => x.ImageId).Where(g => g.Count() != c.CaptionsPerImage))
                    check._problems.Add($"counts.captions_per_image: image '{group.Key}' has {group.Count()} captions, expected {c.CaptionsPerImage}");
        }
        check.Throw();
    }
}

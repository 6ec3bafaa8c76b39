using SkiaSharp;

namespace GradientSurgery.Data;

/// <summary>Decodes one CelebA JPEG with SkiaSharp and resizes it to a square, as planar RGB bytes.</summary>
internal static class CelebAImageDecoder
{
    /// <summary>
    /// Decodes <paramref name="path"/>, resizes the whole image (aspect ratio not kept: 178 × 218 becomes S × S, as
    /// the 64 × 64 CelebA inputs of Sener and Koltun's experiments are made) with bilinear filtering over mipmaps,
    /// which averages rather than skips pixels when shrinking, and writes 3 × S × S bytes (R plane, G plane, B plane).
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a decodable image, or is truncated; the message names it.</exception>
    public static void DecodeInto(string path, int side, Span<byte> destination)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path} is missing", path);
        }
        using var codec = SKCodec.Create(path, out var created);
        if (codec is null)
        {
            throw new InvalidDataException($"'{path}': not a decodable image ({created}){(created == SKCodecResult.IncompleteInput ? "; the file is truncated or corrupt" : string.Empty)}.");
        }
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bitmap = new SKBitmap(info);
        var result = codec.GetPixels(info, bitmap.GetPixels());
        // IncompleteInput is what a truncated JPEG gives: Skia fills the rest with grey, which must not pass as a face.
        if (result != SKCodecResult.Success)
        {
            throw new InvalidDataException($"'{path}': the image could not be decoded completely ({result}); the file is truncated or corrupt.");
        }
        using var resized = bitmap.Resize(new SKImageInfo(side, side, SKColorType.Rgba8888, SKAlphaType.Unpremul), new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear))
            ?? throw new InvalidDataException($"'{path}': resizing the decoded {info.Width}×{info.Height} image to {side}×{side} failed.");
        var rgba = resized.GetPixelSpan();
        var plane = side * side;
        for (var p = 0; p < plane; p++)
        {
            destination[p] = rgba[4 * p];
            destination[plane + p] = rgba[4 * p + 1];
            destination[2 * plane + p] = rgba[4 * p + 2];
        }
    }
}

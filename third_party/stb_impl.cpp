// The one translation unit that compiles the implementations of the stb single-header libraries we use.
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_FAILURE_USERMSG
// Only the formats the data layer reads (data/image_folder.h). The decoders of stb_image's other formats
// (GIF, PSD, TGA, HDR, PIC, PNM) are left out: files we never meant to read are refused at the header, and
// their decoders' known memory-safety bugs (e.g. 16-bit PNM overruns its buffer in 2.27) cannot be reached.
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
// stb_image 2.27's JPEG decoder asserts on some corrupt entropy-coded data (its bit reader runs dry; 2.28
// checks for that). Builds without NDEBUG would abort there instead of reporting the file as undecodable, so
// its asserts are off in every build, as they already are in release builds.
#define STBI_ASSERT(x) ((void)0)
#include <stb_image.h>
#include <stb_image_write.h>

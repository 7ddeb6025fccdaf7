// Render every label of a ZPL document (read from stdin) to PNG files
// label-0.png, label-1.png, ... in the folder named by the first argument:
// 4 x 6 in at 8 dots/mm (203 dpi), as the thermal printer prints them.
const fs = require("node:fs");
const path = require("node:path");
const { ready } = require("zpl-renderer-js");

(async () => {
  const folder = process.argv[2];
  const zpl = fs.readFileSync(0, "utf8");
  const { api } = await ready;
  const labels = await api.zplToBase64MultipleAsync(zpl, 101.6, 152.4, 8);
  labels.forEach((png, index) => {
    fs.writeFileSync(path.join(folder, `label-${index}.png`), Buffer.from(png, "base64"));
  });
  process.exit(0);
})().catch((error) => {
  console.error(error);
  process.exit(1);
});

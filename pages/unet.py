"""U-Net: an encoder-decoder with skip connections, trained on generated scenes, and its ablation."""

from ui.shell import app_shell

app_shell()  # first: a visitor arriving here after a restart sees the app while the imports below load

from ui.presenter import settings
from ui.views.unet import intro, loaded_unets, segmentation_section, show_ablation, source_ui

intro()
(full, full_rec), (noskip, noskip_rec) = loaded_unets()
show_ablation(full, noskip, full_rec.metrics, noskip_rec.metrics)
with settings():
    image, truth = source_ui()
segmentation_section(full, noskip, full_rec.config, image, truth)

"""The computation behind every page: attributions (Captum), the deconvnet and top activations, occlusion,
sanity checks and faithfulness curves, learning-curve fits, an R-CNN opened stage by stage, a U-Net's levels.
Nothing here draws: `explain.figures` turns these results into pictures and charts."""

"""Build and train: a network's anatomy at its input size (layers, shapes, parameters, receptive fields, the
residual block drawn with its code), and the lecture's training loop run live."""

from ui.shell import app_shell

app_shell()  # first: a visitor arriving here after a restart sees the app while the imports below load

import streamlit as st

from ui.image_input import image_input
from ui.presenter import prose, settings
from ui.views.build import anatomy_ui, show_anatomy, training_tab
from ui.views.own import own_model_tab

st.title("Build and train a network")  # one line at 1280 px with the sidebar open, presenting too (two walks)
tab_anatomy, tab_loop, tab_own = st.tabs(["Anatomy", "Training loop", "Your model"])
with tab_loop:  # first: its estimate times the run here before the browser is busy drawing Anatomy's charts
    train_loop = training_tab()
with tab_anatomy:
    prose(
        "Every layer of the network: what it outputs, how many parameters it has, and how much of the image one "
        "of its outputs can see, for the image resized to the network's input (so any image gives the same "
        "table). Then the network's building block beside its PyTorch code: for a ResNet, the residual block, drawn "
        "with its shortcut; for the others, their code."
    )
    with settings():
        name, every = anatomy_ui()
        # behind a button as wide as the page (narrower, the popover cut the sample's name): any image gives the same
        # table, and the picker took a quarter of the screen (a walk); why an image is not shown is said outside it
        picker, notices = st.popover("The image fed through", icon=":material/image:", width="stretch"), st.container()
        with picker:
            chosen = image_input("build", default_sample="chelsea the cat (photo)", notices=notices)
    if chosen is not None:
        show_anatomy(name, every, chosen)
with tab_own:
    own_model_tab()
with tab_loop:  # the live run last, once every tab is drawn (none is left faded while it trains)
    train_loop()

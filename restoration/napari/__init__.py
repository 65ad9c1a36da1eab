"""The napari plugin (npe2, ``napari.yaml``): a dock widget that characterizes, previews and restores
the selected image layer and sends the dataset to the ``restore-dataset`` pipeline, a reader for
``restored.zarr`` and the bundled sample data.

Installed with the ``napari`` extra (``pip install 'restoration[napari]'``); nothing else in the
package imports this subpackage, so napari and Qt load only when napari asks for the plugin.
"""

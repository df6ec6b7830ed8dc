"""The question bank: 4-5 questions at the end of each lesson, on the ideas that lesson teaches.

Multiple-choice questions list their choices with why each wrong one is wrong (RIGHT marks the
right one); where the answer is a size, a count or a shape it comes from `answers`, computed
when it is checked, and the tests check that it picks the choice marked RIGHT.
"""

from __future__ import annotations

from cifarlab.quiz import answers
from cifarlab.quiz.question import RIGHT, Question, multiple_choice
from cifarlab.recipe import RECIPE

QUESTIONS: dict[str, list[Question]] = {
    "00": [
        Question(
            "How many bytes does one CIFAR-10 image take, as `splits.train.images` stores it?",
            "{answer:,}: {recipe.image_size} x {recipe.image_size} pixels x 3 colour channels, one byte (uint8, "
            "0 to 255) each. Every source (official, your own copy, synthetic) gives images in exactly this form.",
            answer=answers.image_bytes,
            unit="bytes",
            key="image_bytes",
        ),
        multiple_choice(
            "validation",
            "We hold some training images out as a validation set (5,000 in the full course). Why not choose "
            "the learning rate and when to stop by looking at the **test** accuracy instead?",
            [
                ("The test set is too small to measure accuracy on", "CIFAR-10's has 10,000 images: plenty."),
                ("Choices tuned on the test set make its accuracy over-optimistic", RIGHT),
                ("Test images are augmented, so their accuracy is noisy", "Only training images are augmented."),
                ("The test labels stay hidden until the end of the course", "They are in `splits.test`, unhidden."),
            ],
            "Every decision made by looking at a set fits the model a little to that set. Decide on the "
            "validation images and touch the test set once, at the end: then its accuracy is an honest "
            "estimate of how the model does on new images.",
        ),
        multiple_choice(
            "stand_in",
            "You skip an exercise and run the whole notebook. What happens in the cells after its self-check?",
            [
                ("They fail with NotImplementedError", "The self-check catches the unfinished exercise first."),
                ("Jupyter stops at the self-check", "Nothing stops: the self-check reports and the notebook goes on."),
                ("They use your unfinished function and print nonsense", "It would only raise; it is replaced."),
                ("They run with cifarlab's reference implementation standing in", RIGHT),
            ],
            "The self-check says the exercise is not done yet and hands the rest of the notebook cifarlab's "
            "reference implementation, which says so whenever it is used: you can read ahead and come back.",
        ),
        multiple_choice(
            "profile",
            "You want every notebook to run in seconds, just to see that your setup works. What do you change?",
            [
                ("The image counts and epochs in each notebook's cells", "Notebooks never hard-code sizes."),
                ("Set CIFARLAB_DATA=synthetic", "That changes where the images come from, not how many are used."),
                ("Start Jupyter with CIFARLAB_PROFILE=smoke", RIGHT),
                ("Nothing: the course always runs the full recipe", "`full` is only the default profile."),
            ],
            "The profile is the one switch for how much work every lesson does, and notebooks ask it for "
            "their sizes. `smoke` shrinks everything to a thousand images and one short epoch on the CPU.",
        ),
    ],
    "01": [
        multiple_choice(
            "axes",
            "`images` has shape (N, 32, 32, 3). Over which axes do you average to get one mean per colour channel?",
            [
                (f"axis={answers.AXES[0]}", RIGHT),
                (f"axis={answers.AXES[1]}", "That averages everything in each image: one number per image, N in all."),
                (f"axis={answers.AXES[2]}", "That averages over the images only: a mean image, one value per pixel."),
                (
                    f"axis={answers.AXES[3]}",
                    "That averages each pixel's three channels: a grey image, not channel means.",
                ),
            ],
            "A channel's mean runs over every image, row and column: all axes but the last one, the "
            "channels, which leaves 3 numbers. Divide by 255 first, to be on the 0..1 scale.",
            answer=answers.per_channel_axes,
        ),
        Question(
            f"The pipeline pads every side by `RECIPE.pad` = {RECIPE.pad} pixels, reflecting the border, before "
            "the random crop. How many pixels wide is the padded image?",
            "{answer}: {recipe.image_size} plus {recipe.pad} on the left and {recipe.pad} on the right. A random "
            "{recipe.image_size}x{recipe.image_size} window of it "
            "shifts the image by up to {recipe.pad} pixels either way: a shifted cat is still a cat.",
            answer=answers.padded_width,
            unit="px",
            key="padded_width",
        ),
        multiple_choice(
            "pipeline_output",
            "What comes out of the training pipeline for one uint8 image of shape (32, 32, 3)?",
            [
                ("(32, 32, 3), torch.float32", "ToTensorV2 puts the channels first, as convolutions expect."),
                ("(3, 32, 32), torch.uint8", "Normalize has already made floats around 0; they stay floats."),
                ("(3, 32, 32), torch.float32", RIGHT),
                ("(1, 3, 32, 32), torch.float32", "The pipeline works on one image; the DataLoader makes batches."),
                ("(3, 40, 40), torch.float32", "The random crop cuts the padded image back to 32x32."),
            ],
            "{answer}: the crop restores 32x32, Normalize turns the bytes into floats around 0, and "
            "ToTensorV2 moves the channels first (HWC to CHW), the layout PyTorch's convolutions read.",
            answer=answers.pipeline_output,
        ),
        multiple_choice(
            "normalize_last",
            "Why does Normalize come after cutout (CoarseDropout) in the pipeline, and not before it?",
            [
                ("Normalize would undo the cutout", "Normalize shifts and scales every pixel; the square stays."),
                ("Cutout's fill colour is given in 0..255 pixel units", RIGHT),
                ("The order does not matter", "It does: the fill colour would no longer mean the mean colour."),
                ("ToTensorV2 needs its input normalised", "ToTensorV2 only changes the layout, HWC to CHW."),
            ],
            "The augmentations work on ordinary pixel values: cutout fills its square with the mean colour on "
            "the 0..255 scale. After Normalize the pixels sit around 0 with std 1, so that fill (over 100) "
            "would be a glaring patch far outside the data. Augment, then normalise, then make a tensor.",
        ),
    ],
    "02": [
        multiple_choice(
            "layer2_shape",
            "Follow one image, a tensor of shape (1, 3, 32, 32), through the ResNet9. What is the shape of "
            "`layer2`'s output?",
            [
                ("(1, 256, 16, 16)", "layer2's ConvBlock max-pools: layer1's 16x16 becomes 8x8."),
                ("(1, 128, 8, 8)", "layer2 doubles the channels, 128 to 256; pooling halves only height and width."),
                ("(1, 256, 8, 8)", RIGHT),
                ("(1, 512, 4, 4)", "That is layer3's output, one more pool and doubling later."),
            ],
            "{answer}. Each stage doubles the channels while its max-pool halves height and width: prep "
            "keeps {prep}, layer1 gives {layer1_1}, layer2 {layer2} (channels x height x width).",
            answer=lambda: str(answers.block_shapes()["layer2"]),
            facts=answers.walk,
        ),
        Question(
            "How many weights does one of the two convolutions in `layer3`'s residual block have? "
            "(Like every conv of the network it is 3x3 and has no bias.)",
            "3 x 3 x {width} x {width} = {answer:,}: each of the {width} output channels has a 3x3 filter over "
            "each of the {width} input channels. The residual block's two convs hold {share:.0%} of the whole "
            "network's parameters, yet cost little compute: they run on {side}x{side} maps.",
            answer=answers.residual_conv_weights,
            facts=answers.layer3_share,
            unit="weights",
            key="conv_weights",
        ),
        Question(
            "The lesson's *Try this*: a ResNet9 with every width halved. How many times fewer parameters does "
            "it have than the full one?",
            "{answer:.2f} times, about 4: a conv's weights grow with in-channels *times* out-channels, so "
            "halving both quarters them. Only the first conv (its input stays 3 channels), BatchNorm and the "
            "last layer grow linearly with the width, which is why it is not exactly 4.",
            answer=lambda: answers.parameters() / answers.parameters(answers.halved_widths()),
            tolerance=0.1,
            unit="times fewer",
            key="halved_widths",
        ),
        multiple_choice(
            "why_residual",
            "Why does a residual block, `x + f(x)`, make a deep network easier to train?",
            [
                ("It adds parameters, so the network can learn more", "The + adds no parameters at all."),
                ("It shrinks the feature maps: less to compute", "The + needs x and f(x) of the same shape."),
                ("It replaces BatchNorm, which slows training down", "The block still uses BatchNorm in f."),
                ("Doing nothing is easy (f = 0), and gradients pass the + unchanged", RIGHT),
            ],
            "Plain deep stacks train worse: learning 'do nothing' through many convolutions is hard, and the "
            "gradient fades on its way back. With x + f(x) the layers only learn a correction to x, and the "
            "gradient reaches x through the + undiminished.",
        ),
    ],
    "03": [
        multiple_choice(
            "step_order",
            "A student's training step runs: forward, loss, `optimizer.zero_grad()`, `optimizer.step()`, "
            "`loss.backward()`. What happens?",
            [
                ("It trains normally: the order does not matter", "step() uses whatever gradients are there now."),
                ("Each step uses the previous batch's gradients", "zero_grad has just cleared them before step."),
                ("The model never learns: step runs when the gradients are cleared", RIGHT),
                ("backward() fails: the graph is already freed", "The graph is freed by backward, not before it."),
            ],
            "step() moves each weight by the gradient in `.grad` at that moment. Here zero_grad has just "
            "cleared it, so step does nothing, and the gradients backward then computes are cleared again "
            "before the next step. The order is zero_grad, backward, step.",
        ),
        multiple_choice(
            "train_eval",
            "Why does the loop call `model.train()` before training and `model.eval()` before validation?",
            [
                ("eval() turns off gradient computation", "That is torch.no_grad(); eval() changes how layers act."),
                ("BatchNorm uses the batch's statistics, or in eval its running averages", RIGHT),
                ("train() moves the model to the GPU", "Devices are .to(device)'s job; the mode is separate."),
                (
                    "eval() freezes the learning-rate schedule",
                    "The schedule moves only when schedule.step() is called.",
                ),
            ],
            "In training mode BatchNorm normalises with the current batch's statistics and updates its "
            "running averages; in eval mode it uses those averages, so a prediction does not depend on "
            "which other images share its batch.",
        ),
        multiple_choice(
            "overfitting",
            "Over the epochs the training loss keeps falling while the validation loss starts to rise. "
            "What is happening?",
            [
                ("The learning rate is too small to make progress", "Then both losses would fall slowly."),
                ("The validation images are augmented, so harder", "Validation images are never augmented."),
                ("Nothing: the validation loss always rises at the end", "A rising validation loss is a warning."),
                ("The model is memorising the training images: over-fitting", RIGHT),
            ],
            "A falling training loss says the model fits the images it trains on; a rising validation loss "
            "says that fit no longer carries over to images it never trains on. It is memorising them.",
        ),
        multiple_choice(
            "step_per_epoch",
            "The OneCycle schedule is built for epochs x batches steps, but a student calls `schedule.step()` "
            "once per **epoch** instead of once per batch. What does the learning rate do?",
            [
                ("The same as stepped per batch", "OneCycle counts calls of step(), not epochs or time."),
                ("It reaches its peak at the end of the first epoch", "One call moves it by one step of {steps:,}."),
                ("It stays near its low starting value all run long", RIGHT),
                ("It falls to almost zero after the first epoch", "It would still be warming up, near its start."),
            ],
            "OneCycle counts calls of step(). Built for the full recipe's {steps:,} batches and called only "
            "{recipe.epochs} times, it ends the run at a rate of {late:.3g}, having started at {start:.3g}, "
            "while its peak would have been {peak:.3g}: the network crawls all run long.",
            facts=answers.schedule_facts,
        ),
    ],
    "04": [
        multiple_choice(
            "lightning_steps",
            "In Lightning, who calls `optimizer.zero_grad()`, `loss.backward()` and `optimizer.step()`?",
            [
                ("training_step, just as in the plain loop", "training_step only computes and returns the loss."),
                ("The Trainer, with what configure_optimizers returns", RIGHT),
                ("validation_step", "Validation runs in eval mode without gradients: nothing is optimised."),
                ("Nobody: Lightning trains without gradients", "Lightning runs the same steps as lesson 03's loop."),
            ],
            "training_step returns the loss, configure_optimizers returns the optimizer and the schedule "
            "(stepped every batch with interval='step'), and the Trainer runs zero_grad, backward, step "
            "and the schedule's step around them.",
        ),
        Question(
            f"With the recipe's label smoothing, s = {RECIPE.label_smoothing}, and {RECIPE.num_classes} classes, "
            "what target probability does the training loss give the **true** class?",
            "1 - s + s/{recipe.num_classes} = {answer:.2f}: a fraction s of the target is spread evenly over all "
            "{recipe.num_classes} classes, the true one included, so every other class gets s/{recipe.num_classes} "
            "= {other:.2f}. The model is no longer pushed "
            "towards ever more extreme scores.",
            answer=lambda: answers.smoothed_target()["true"],
            tolerance=0.005,
            facts=answers.smoothed_target,
            key="label_smoothing",
        ),
        multiple_choice(
            "strict_false",
            "The seed course loaded weights with `load_state_dict(..., strict=False)`. What happens when the "
            "parameter names in the file differ from the model's?",
            [
                ("Nothing is loaded, silently: you get a random network", RIGHT),
                ("It raises an error that names the missing keys", "That is strict=True, and cifarlab's load_model."),
                ("The weights are matched by position instead", "load_state_dict matches by name, always."),
                ("The names are converted automatically", "Nothing converts them: unmatched names are skipped."),
            ],
            "strict=False skips every name it cannot match and only returns the lists of missing and "
            "unexpected keys. When all names differ, no weight is loaded and the model stays random, without "
            "an error. cifarlab's load_model checks every name and shape and raises a CheckpointError instead.",
        ),
        multiple_choice(
            "resume",
            f"A {RECIPE.epochs}-epoch run has finished. Why can't `--resume` simply continue it for 10 more epochs?",
            [
                ("The checkpoint does not keep the optimizer", "last.ckpt keeps momentum and the schedule's place."),
                ("Lightning deletes the checkpoints at the end", "The best and last checkpoints stay."),
                ("OneCycle planned the whole run: its rate has already run down", RIGHT),
                ("The data order would repeat the first epochs", "The order is seeded by (seed, epoch, image)."),
            ],
            "Resuming continues an interrupted run exactly: weights, momentum, the schedule's position, the "
            "epoch counter. But OneCycle was built for {recipe.epochs} epochs and has finished its descent to "
            "almost zero; more epochs need a schedule planned for them: a new run.",
        ),
    ],
    "05": [
        multiple_choice(
            "lowest_loss",
            "In the learning-rate range test, why not take the rate at which the loss is lowest?",
            [
                ("The lowest loss is always at the smallest rate", "There the curve is flat: steps too small."),
                ("There the loss is about to blow up: the edge of the useful range", RIGHT),
                ("The lowest point is only noise", "The smoothing deals with noise; the low point is real."),
                ("The suggestion should be as large as possible", "The suggestion should sit safely inside."),
            ],
            "Past its lowest point the loss rises and explodes, so the lowest loss sits at the edge of the "
            "useful range. The steepest descent (against log10 of the rate) is where training progresses "
            "fastest while still safely inside it.",
        ),
        Question(
            f"The recipe's OneCycle has max_lr = {RECIPE.max_lr} and div_factor = {RECIPE.div_factor:g}. What is "
            "the learning rate at the very first batch?",
            "max_lr / div_factor = {answer:.3g}. OneCycle warms up from there to max_lr over the first "
            "{recipe.pct_start:.0%} of the batches, so the freshly initialised network (and BatchNorm's "
            "statistics) settles before the big steps.",
            answer=lambda: answers.full_schedule()[0][0],
            tolerance=0.0002,
            key="start_rate",
        ),
        multiple_choice(
            "momentum_at_peak",
            "Where is the momentum when OneCycle's learning rate is at its peak?",
            [
                ("At its highest", "Nothing in the recipe raises it: one_cycle passes cycle_momentum=False."),
                ("Unchanged: it stays at RECIPE.momentum", RIGHT),
                (
                    "At its lowest",
                    "That is PyTorch's OneCycleLR left at its default, cycle_momentum=True (0.85 at the peak); "
                    "the recipe turns that cycle off.",
                ),
                ("Zero", "Momentum stays on all run; only the rate moves."),
            ],
            "It stays at {high:.3g} from the first batch to the last, as in Page's 94% recipe. PyTorch's "
            "OneCycleLR would otherwise replace SGD's momentum with a 0.95 -> 0.85 -> 0.95 cycle, whatever "
            "momentum SGD was given: a setting silently ignored.",
            answer=answers.momentum_at_peak,
            facts=answers.momentum_facts,
        ),
        multiple_choice(
            "fp16_scaler",
            "Why does fp16 mixed precision need a gradient scaler while bf16 does not?",
            [
                ("bf16 has more precision than fp16", "The other way round; bf16 keeps fp32's range instead."),
                ("fp16's range is narrow: small gradients would round to zero", RIGHT),
                ("The scaler makes fp16 faster", "It costs a little time; it is there so small gradients survive."),
                ("Lightning cannot run fp16 without it", "The scaler exists because of fp16's numbers, not Lightning."),
            ],
            "bf16 keeps fp32's exponent: same range, less precision, nothing underflows. fp16 has more "
            "precision but a narrow range, so small gradients round to zero; multiplying the loss by a large "
            "factor before backward lifts them into range, and the gradients are divided back afterwards.",
        ),
        multiple_choice(
            "bf16_on_cpu",
            "On a CPU without bf16 instructions (most laptops), how does a bf16 training step compare with fp32?",
            [
                ("About twice as fast: half the bytes", "Only where the chip computes in 16 bits."),
                ("The same speed", "Emulation is far from free."),
                ("It cannot run at all", "It runs, emulated; cifarlab's timing skips it when too slow."),
                ("Many times slower: bf16 has to be emulated", RIGHT),
            ],
            "16-bit numbers are only faster where the chip has units for them (tensor cores, AVX512-BF16, "
            "AMX). Elsewhere each bf16 value is converted to fp32, computed and rounded back: 20 to 130 times "
            "slower than fp32 in the lesson's measurements. That is why you measure on your device.",
        ),
    ],
    "06": [
        multiple_choice(
            "confusion_diagonal",
            "In the confusion matrix (rows: true class, columns: predicted class, each row normalised), what "
            "is the diagonal entry of the row 'cat'?",
            [
                ("The share of images called cat that really are cats", "That would be a column's share."),
                ("The number of cat images in the test set", "Rows are normalised: entries are shares."),
                ("The share of cat images the model called cat: cat's accuracy", RIGHT),
                ("How often cats were taken for dogs", "That is off the diagonal: row cat, column dog."),
            ],
            "Each row holds the true images of one class and sums to 1. Its diagonal entry is the share "
            "predicted right, the per-class accuracy; the rest says what the class was taken for.",
        ),
        Question(
            "A GradCAM map from `layer3` is stretched to 32x32 to lie over the image. How many image pixels "
            "wide is one cell of the map as layer3 computed it?",
            "{answer}: layer3's output is {side}x{side}, so each cell covers {answer}x{answer} pixels. It knows "
            "*what* the object is but can only say roughly where; layer2's {layer2}x{layer2} map is sharper "
            "and knows less.",
            answer=answers.cam_cell,
            facts=answers.map_sides,
            unit="px",
            key="cam_cell",
        ),
        multiple_choice(
            "train_below_validation",
            "In the pretrained model's curves the training accuracy sits below the validation accuracy. "
            "What does that mean?",
            [
                ("Nothing wrong: training images are augmented, so harder", RIGHT),
                ("The model is over-fitting", "Over-fitting shows the other way round: training far above."),
                ("The learning rate is too high", "That shows as a loss that rises or explodes."),
                ("The validation set is smaller, so easier", "Fewer images make a noisier estimate, not easier ones."),
            ],
            "Training accuracy is measured on augmented images (shifted, flipped, a patch cut out), which "
            "are harder than the plain validation images. The gap to worry about is the other way: training "
            "far above validation means memorising.",
        ),
        multiple_choice(
            "mass_in_mask",
            "On the shapes data, a GradCAM map blind to the object would put what share of its total inside "
            "the object's mask?",
            [
                ("None of it", "A blind map ignores the mask; it does not avoid it."),
                ("About the mask's share of the image, its area fraction", RIGHT),
                ("All of it", "That is a perfect map, not a blind one."),
                ("Half of it", "Only if the mask covered half the image."),
            ],
            "A map that ignores the object spreads its mass wherever it likes, so the mask collects about "
            "its area fraction by chance. The shapes model's maps put several times that on the object: on "
            "this data, GradCAM tells the truth.",
        ),
    ],
    "07": [
        multiple_choice(
            "crop_not_squash",
            "A 4:3 photo arrives. Why crop its centre square instead of resizing the whole photo to 32x32?",
            [
                ("Cropping is faster than resizing", "Both are fast; what matters is the object's shape."),
                ("The model can only read square files", "The model reads a tensor; both ways make 32x32."),
                ("Squashing distorts the object; the model learnt from undistorted ones", RIGHT),
                ("A photo's borders never hold the object", "They may; a little is lost to keep proportions."),
            ],
            "CIFAR-10 images are square and undistorted. Squashing a 4:3 photo into a square makes every "
            "object a quarter narrower than it should be; the centre square, as torchvision's CenterCrop "
            "takes it, keeps its shape.",
        ),
        multiple_choice(
            "model_image",
            f"What does `to_model_image` return for a {answers.PHOTO[0]}x{answers.PHOTO[1]} RGB photo?",
            [
                ("(3, 32, 32), float32", "Normalising and channels first come after to_model_image."),
                ("(32, 32, 3), uint8", RIGHT),
                ("(1, 3, 32, 32), float32", "That is the batch the network reads, made from this picture."),
                (
                    f"({answers.PHOTO[1]}, {answers.PHOTO[1]}, 3), uint8",
                    "That is the centre square before it is shrunk.",
                ),
            ],
            "{answer}: the picture the model will see, 8-bit RGB, the centre square shrunk to 32x32 with "
            "antialiasing. Normalising with the training mean and std and moving the channels first then "
            "make the (1, 3, 32, 32) float tensor the network reads.",
            answer=answers.model_image,
        ),
        multiple_choice(
            "transparent",
            "Someone uploads an RGBA PNG with transparent borders. What colour do the transparent pixels become?",
            [
                ("Black", "Dropping the alpha channel keeps whatever they store, often black: a frame never seen."),
                ("The mean colour of the training set", "A fair guess, but not what a person sees."),
                ("White", RIGHT),
                ("They stay transparent", "The model reads three channels: the alpha channel has to go."),
            ],
            "Transparent pixels go on white, as an image viewer shows them, so the model sees the picture "
            "the person sees. Simply dropping alpha would leave whatever colour they store, often black.",
            answer=answers.transparent_becomes,
        ),
        multiple_choice(
            "loopback",
            "Why does `cifarlab app` listen on 127.0.0.1 unless told otherwise?",
            [
                ("Gradio cannot listen on other addresses", "It can: --host 0.0.0.0, or share=True."),
                ("Only your own machine can open it: publishing is done on purpose", RIGHT),
                ("127.0.0.1 is faster", "Speed is the same; the choice is about who can reach the app."),
                ("Colab requires it", "The default is about safety, not Colab."),
            ],
            "The app reads files anyone who reaches it can upload. On loopback only you can open it; "
            "--host 0.0.0.0 (your whole network) or share=True (a public link) publish it: do that only on "
            "purpose.",
        ),
    ],
    "08": [
        multiple_choice(
            "feeding",
            "A GPU could train the ResNet-9 on 80,000 images a second. Colab gives it 2 CPU cores running "
            "DataLoader workers with Albumentations. What sets the speed of training?",
            [
                ("The GPU's arithmetic, as always", "Only if the batches arrive as fast as the GPU eats them."),
                ("How fast the workers deliver augmented batches: the GPU waits", RIGHT),
                ("The size of the model", "Fed from the GPU, this size trains far faster (airbench: 100,000+/s)."),
                ("The learning rate", "The rate decides how much a step learns, not how long it takes."),
            ],
            "Per-image work on two CPU cores delivers a few thousand images a second, a small fraction of "
            "what the GPU could take, so the GPU idles between batches. Holding the images on the GPU and "
            "augmenting whole batches there removes the CPU from the loop: the data-on-device path.",
        ),
        Question(
            f"The full recipe trains for {RECIPE.epochs} epochs at batch {RECIPE.batch_size} on the 45,000 "
            f"training images, and its EMA remembers about {RECIPE.ema_horizon:.0%} of its steps. What per-step "
            "decay does `cifarlab train --ema` use? (4 decimals)",
            "{answer:.4f}: an average with decay d remembers about 1 / (1 - d) steps, here {memory:.0f} of the "
            "{steps:,}, so d = 1 - 1 / {memory:.0f}. A decay fixed at 0.999 would remember 1,000 steps: about "
            "half of this run, and far longer than the cpu profile's whole run of 117 steps.",
            answer=answers.full_run_ema_decay,
            facts=answers.ema_facts,
            tolerance=0.0002,
            unit="decay",
            key="ema_decay",
        ),
        multiple_choice(
            "mirror_only",
            "Test-time augmentation averages the model's answers for an image and its left-right mirror. Why "
            "not also the image upside down?",
            [
                ("Flipping upside down is slower", "Any flip costs one more forward pass, the same."),
                ("Training never showed it upside-down images: its answers there are poor", RIGHT),
                ("An upside-down image has the same pixels", "It does not: the rows are reversed."),
                ("It would cancel the left-right flip", "Both flips together are a rotation, a new view."),
            ],
            "TTA asks about views the model has learnt to handle: training mirrored left-right and shifted "
            "by a few pixels, and those are the views TTA uses. A cat upside down is an image it never met; "
            "its answer there would drag the average down.",
        ),
        multiple_choice(
            "seeds",
            "A change to the recipe gains 0.3 points of accuracy in one short run. What do you do before believing it?",
            [
                ("Nothing: 0.3 points is a gain", "Two runs that differ only in their seed differ by about a point."),
                ("Run it again with the same seed", "The same seed gives the same answer: that measures nothing."),
                ("Run both over several seeds; compare the paired differences with their spread", RIGHT),
                ("Train for more epochs, once", "Longer runs vary less, but one run still has no spread to compare."),
            ],
            "Short runs of the same recipe with different seeds spread by a point or more. Pair the runs by "
            "seed (same data order, same start), take the differences, and compare their mean with their "
            "standard deviation: `benchmarks/recipe_ablation.py` does this for every trick of this lesson.",
        ),
    ],
}
